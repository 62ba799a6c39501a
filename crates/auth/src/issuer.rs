//! Issuers csp runs itself: the development issuer (embedded default, demo, tests) and the
//! internal issuer (service-to-service tokens). Partner and platform issuers are outside systems;
//! csp only holds their public keys.
//!
//! Both sign with a private Ed25519 key held in memory (zeroed on drop) and optionally persisted
//! in a key file, so `csp token` and a running `csp up` that share a data dir agree on the key.

use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use csp_events::actor::TOKEN_AUDIENCE;
use csp_events::{ActorKind, Role, TenantId, TokenClaims};
use ed25519_dalek::{Signer as _, SigningKey};

use crate::config::{encode_public_key, IssuerConfig, IssuerKind};

/// The `iss` of the development issuer.
pub const DEV_ISSUER: &str = "csp-dev";

/// The `iss` of the internal issuer.
pub const INTERNAL_ISSUER: &str = "csp-internal";

/// The JWT header of every token csp signs: EdDSA, the only algorithm it accepts.
const HEADER_JSON: &str = r#"{"alg":"EdDSA","typ":"JWT"}"#;

/// A private key and the `iss` it signs for: the common half of [`DevIssuer`] and
/// [`InternalIssuer`].
struct LocalIssuer {
    key: SigningKey,
    iss: &'static str,
    kind: IssuerKind,
}

impl LocalIssuer {
    fn generate(iss: &'static str, kind: IssuerKind) -> io::Result<LocalIssuer> {
        Ok(LocalIssuer::from_seed(random_seed()?, iss, kind))
    }

    fn from_seed(seed: [u8; 32], iss: &'static str, kind: IssuerKind) -> LocalIssuer {
        LocalIssuer {
            key: SigningKey::from_bytes(&seed),
            iss,
            kind,
        }
    }

    fn load_or_create(path: &Path, iss: &'static str, kind: IssuerKind) -> io::Result<Self> {
        Ok(LocalIssuer::from_seed(
            load_or_create_seed(path)?,
            iss,
            kind,
        ))
    }

    fn issuer_config(&self) -> IssuerConfig {
        IssuerConfig {
            iss: self.iss.to_string(),
            kind: self.kind,
            tenant: None,
            public_keys: vec![self.public_key_base64()],
        }
    }

    fn public_key_base64(&self) -> String {
        encode_public_key(&self.key.verifying_key())
    }

    /// Signs `header.payload` by hand: the header is a constant and Ed25519 signing cannot fail,
    /// so minting needs no error path (unlike `jsonwebtoken::encode`, which wants a PKCS#8 key).
    fn mint(&self, claims: &TokenClaims) -> String {
        // A struct of strings, integers, a UUID and unit enums always serialises.
        let payload = serde_json::to_vec(claims).expect("TokenClaims serialises to JSON");
        let mut token = URL_SAFE_NO_PAD.encode(HEADER_JSON);
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(payload));
        let signature = self.key.sign(token.as_bytes());
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature.to_bytes()));
        token
    }

    fn claims_for(
        &self,
        kind: ActorKind,
        tenant: TenantId,
        user: &str,
        roles: &[Role],
        ttl_secs: i64,
        now_unix_secs: i64,
    ) -> TokenClaims {
        TokenClaims {
            iss: self.iss.to_string(),
            sub: user.to_string(),
            aud: TOKEN_AUDIENCE.to_string(),
            exp: now_unix_secs.saturating_add(ttl_secs),
            iat: now_unix_secs,
            nbf: None,
            tid: tenant,
            kind,
            roles: roles.to_vec(),
        }
    }
}

/// The local development issuer (`iss` [`DEV_ISSUER`], kind development): it may mint any token,
/// which is what the embedded default, the demo and tests need, and why its public half must
/// never be in a production configuration.
pub struct DevIssuer(LocalIssuer);

impl DevIssuer {
    /// A new random key from the operating system's generator.
    pub fn generate() -> io::Result<DevIssuer> {
        LocalIssuer::generate(DEV_ISSUER, IssuerKind::Development).map(DevIssuer)
    }

    /// A fixed key, for reproducible tests and fixtures.
    pub fn from_seed(seed: [u8; 32]) -> DevIssuer {
        DevIssuer(LocalIssuer::from_seed(
            seed,
            DEV_ISSUER,
            IssuerKind::Development,
        ))
    }

    /// Reads the key file at `path`, or creates it (mode 0600) with a random key. A key file
    /// readable by group or others is refused: it signs for anyone.
    pub fn load_or_create(path: impl AsRef<Path>) -> io::Result<DevIssuer> {
        LocalIssuer::load_or_create(path.as_ref(), DEV_ISSUER, IssuerKind::Development)
            .map(DevIssuer)
    }

    /// The public half, to add to the verifier's [`crate::AuthConfig`].
    pub fn issuer_config(&self) -> IssuerConfig {
        self.0.issuer_config()
    }

    /// The public key as configured in `public_keys` (standard base64 of the raw 32 bytes).
    pub fn public_key_base64(&self) -> String {
        self.0.public_key_base64()
    }

    /// Signs `claims` exactly as given (tests use this to craft wrong audiences or other
    /// issuers' `iss`); [`DevIssuer::mint_for`] fills them in correctly.
    pub fn mint(&self, claims: &TokenClaims) -> String {
        self.0.mint(claims)
    }

    /// A token for `user` of `tenant` with `roles`, issued now and valid for `ttl_secs`.
    pub fn mint_for(
        &self,
        kind: ActorKind,
        tenant: TenantId,
        user: &str,
        roles: &[Role],
        ttl_secs: i64,
        now_unix_secs: i64,
    ) -> String {
        self.0.mint(
            &self
                .0
                .claims_for(kind, tenant, user, roles, ttl_secs, now_unix_secs),
        )
    }
}

impl std::fmt::Debug for DevIssuer {
    /// Shows the public key only: a Debug print must never leak the signing key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIssuer")
            .field("public_key", &self.public_key_base64())
            .finish()
    }
}

/// The internal issuer (`iss` [`INTERNAL_ISSUER`], kind internal): services mint `service` tokens
/// with it to call each other's internal endpoints (`events_from`), and nothing else.
pub struct InternalIssuer(LocalIssuer);

impl InternalIssuer {
    /// A new random key from the operating system's generator.
    pub fn generate() -> io::Result<InternalIssuer> {
        LocalIssuer::generate(INTERNAL_ISSUER, IssuerKind::Internal).map(InternalIssuer)
    }

    /// A fixed key, for reproducible tests.
    pub fn from_seed(seed: [u8; 32]) -> InternalIssuer {
        InternalIssuer(LocalIssuer::from_seed(
            seed,
            INTERNAL_ISSUER,
            IssuerKind::Internal,
        ))
    }

    /// Reads the key file at `path`, or creates it (mode 0600) with a random key. Every service
    /// of a deployment must load the same file (or the verifier must list every service's key).
    pub fn load_or_create(path: impl AsRef<Path>) -> io::Result<InternalIssuer> {
        LocalIssuer::load_or_create(path.as_ref(), INTERNAL_ISSUER, IssuerKind::Internal)
            .map(InternalIssuer)
    }

    /// The public half, to add to the verifier's [`crate::AuthConfig`].
    pub fn issuer_config(&self) -> IssuerConfig {
        self.0.issuer_config()
    }

    /// The public key as configured in `public_keys`.
    pub fn public_key_base64(&self) -> String {
        self.0.public_key_base64()
    }

    /// Signs `claims` exactly as given; the verifier still refuses anything but service tokens
    /// with role `service` from this issuer.
    pub fn mint(&self, claims: &TokenClaims) -> String {
        self.0.mint(claims)
    }

    /// A token issued now and valid for `ttl_secs`, same shape as [`DevIssuer::mint_for`].
    pub fn mint_for(
        &self,
        kind: ActorKind,
        tenant: TenantId,
        user: &str,
        roles: &[Role],
        ttl_secs: i64,
        now_unix_secs: i64,
    ) -> String {
        self.0.mint(
            &self
                .0
                .claims_for(kind, tenant, user, roles, ttl_secs, now_unix_secs),
        )
    }

    /// The usual internal token: service `service` (user `csp-<service>`, the nil tenant, role
    /// `service`), matching [`csp_events::Actor::system`].
    pub fn mint_service(&self, service: &str, ttl_secs: i64, now_unix_secs: i64) -> String {
        let actor = csp_events::Actor::system(service);
        self.mint_for(
            actor.kind,
            actor.tenant,
            &actor.user,
            &actor.roles,
            ttl_secs,
            now_unix_secs,
        )
    }
}

impl std::fmt::Debug for InternalIssuer {
    /// Shows the public key only: a Debug print must never leak the signing key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InternalIssuer")
            .field("public_key", &self.public_key_base64())
            .finish()
    }
}

/// 32 bytes from the operating system's generator.
fn random_seed() -> io::Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| io::Error::other(format!("no randomness from the OS: {e}")))?;
    Ok(seed)
}

/// Reads the seed in `path`, or creates the file with a random one.
///
/// Creation is atomic: the seed is written and synced to a private temporary file which is then
/// hard-linked to `path`, which fails if `path` exists. So two processes starting together agree
/// on one key, and no reader ever sees a half-written file.
/// An Ed25519 seed from a key file (one line, standard base64 of 32 bytes, mode 0600), made
/// and written atomically if the file does not exist: the issuers' keys, and audit's
/// checkpoint key, are kept this one way.
pub fn load_or_create_seed(path: &Path) -> io::Result<[u8; 32]> {
    match read_seed(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        other => return other,
    }
    let seed = random_seed()?;
    let tmp = temporary_sibling(path)?;
    let written = write_private(&tmp, STANDARD.encode(seed).as_bytes());
    let linked = written.and_then(|()| fs::hard_link(&tmp, path));
    // The temporary name is removed whatever happened; `path` keeps the inode if linked.
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(seed),
        // Another process created the file first: use its key.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read_seed(path),
        Err(e) => Err(e),
    }
}

/// Reads a key file: one line, standard base64 of the 32-byte seed, mode 0600.
pub fn read_seed(path: &Path) -> io::Result<[u8; 32]> {
    let metadata = fs::metadata(path)?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "key file {} has mode {mode:o}: it must be readable by its owner only (chmod 600)",
                path.display()
            ),
        ));
    }
    let text = fs::read_to_string(path)?;
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|_| bad_key_file(path))?;
    bytes.as_slice().try_into().map_err(|_| bad_key_file(path))
}

fn bad_key_file(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "key file {} is not base64 of a 32-byte key; delete it to make a new key",
            path.display()
        ),
    )
}

/// A unique name next to `path`, so the final hard link stays on one file system.
fn temporary_sibling(path: &Path) -> io::Result<std::path::PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a file path", path.display()),
        )
    })?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
    Ok(path.with_file_name(tmp_name))
}

/// Creates `path` (which must not exist) readable and writable by its owner only, writes
/// `contents` and syncs it.
fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    // The mode above is filtered by the umask, which can only remove bits; set it exactly anyway.
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    file.write_all(contents)?;
    file.write_all(b"\n")?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A unique directory under the system temp dir, removed on drop.
    struct ScratchDir(std::path::PathBuf);

    impl ScratchDir {
        fn new() -> ScratchDir {
            let dir = std::env::temp_dir().join(format!("csp-auth-test-{}", uuid::Uuid::new_v4()));
            fs::create_dir(&dir).expect("create scratch dir");
            ScratchDir(dir)
        }
    }

    impl Drop for ScratchDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn load_or_create_twice_yields_the_same_key_in_a_0600_file() {
        let dir = ScratchDir::new();
        let path = dir.0.join("dev-issuer.key");
        let first = DevIssuer::load_or_create(&path).expect("create");
        let second = DevIssuer::load_or_create(&path).expect("load");
        assert_eq!(first.public_key_base64(), second.public_key_base64());
        let mode = fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // No temporary file is left behind.
        let entries = fs::read_dir(&dir.0).expect("list").count();
        assert_eq!(entries, 1);
    }

    #[test]
    fn a_key_file_readable_by_others_is_refused() {
        let dir = ScratchDir::new();
        let path = dir.0.join("k");
        DevIssuer::load_or_create(&path).expect("create");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = DevIssuer::load_or_create(&path).expect_err("refused");
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
    }

    #[test]
    fn a_corrupt_key_file_is_refused_not_replaced() {
        let dir = ScratchDir::new();
        let path = dir.0.join("k");
        write_private(&path, b"not a key").expect("write");
        let err = InternalIssuer::load_or_create(&path).expect_err("refused");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(fs::read_to_string(&path).expect("read"), "not a key\n");
    }

    #[test]
    fn generated_keys_differ_and_seeded_keys_repeat() {
        let a = DevIssuer::generate().expect("random");
        let b = DevIssuer::generate().expect("random");
        assert_ne!(a.public_key_base64(), b.public_key_base64());
        assert_eq!(
            DevIssuer::from_seed([3; 32]).public_key_base64(),
            DevIssuer::from_seed([3; 32]).public_key_base64()
        );
        // The internal issuer signs for its own `iss` and kind.
        let internal = InternalIssuer::from_seed([3; 32]).issuer_config();
        assert_eq!(internal.iss, INTERNAL_ISSUER);
        assert_eq!(internal.kind, IssuerKind::Internal);
    }

    #[test]
    fn debug_does_not_print_the_private_key() {
        let issuer = DevIssuer::from_seed([5; 32]);
        let printed = format!("{issuer:?}");
        assert!(!printed.contains(&STANDARD.encode([5u8; 32])));
        assert!(printed.contains(&issuer.public_key_base64()));
    }
}
