//! The keyring: envelope encryption for product keys (DESIGN.md "Security").
//!
//! Every product key is sealed (XChaCha20-Poly1305) under **its own** data key; the data keys,
//! and the service's other secrets (the link-signing secret, the fingerprint secret), are kept
//! here wrapped by a **master key** that lives outside the data directory. Destroying a data
//! key shreds exactly one product key, even in every backup of the event log. Because a
//! deleted sled value can linger in old segment files, the master key is rotated after
//! revocations: live entries are re-wrapped under a new master key, made durable, and only then
//! is the old one destroyed, so the lingering copies of shredded data keys stay wrapped under a
//! key that no longer exists.
//!
//! Crash safety of a rotation: the new master key is written to `<master>.next` and synced;
//! every entry is re-wrapped in one sled batch that also names the new key, and flushed; then
//! `<master>.next` replaces `<master>`. Opening the keyring finishes or discards a rotation a
//! crash interrupted (whichever key the keyring names is the one kept), so no live key is ever
//! lost and no old master key is left behind.

use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use csp_events::entitlement::SealedKey;
use csp_events::{DataKeyId, KeyId};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::secret::ProductKey;

/// Why the keyring cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// A file could not be read or written.
    #[error("keyring I/O on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The keyring's database failed.
    #[error("keyring store: {0}")]
    Store(#[from] sled::Error),
    /// The OS had no randomness to give.
    #[error("no randomness from the OS: {0}")]
    Random(String),
    /// The master key file is missing while the keyring holds entries wrapped by one.
    #[error("the keyring at {keyring} is wrapped by master key {expected}, but {master} does not hold it: give the right --master-key")]
    WrongMaster {
        /// The keyring directory.
        keyring: PathBuf,
        /// The master key file.
        master: PathBuf,
        /// The id of the master key the keyring names.
        expected: Uuid,
    },
    /// A master key file that is not one (wrong length).
    #[error("{0} is not a csp master key file")]
    BadMasterFile(PathBuf),
    /// The data key was destroyed: its product key is shredded for good.
    #[error("data key {0} was destroyed: the key is revoked")]
    Shredded(DataKeyId),
    /// A stored entry or a sealed key does not open: tampered with, or under another key.
    #[error("{0} does not open: damaged or tampered with")]
    Corrupt(String),
    /// The master key comes from the environment and cannot be rotated in place.
    #[error("the master key comes from the environment ({0}); rotation needs a --master-key file")]
    NotRotatable(String),
}

/// Where the master key lives: a file (rotatable) or an environment variable (base64 of the
/// 16-byte id and 32-byte key), never inside the data directory.
#[derive(Debug, Clone)]
pub enum MasterSource {
    /// A file, created (mode 0600) if it does not exist and the keyring is new.
    File(PathBuf),
    /// An environment variable's name; its value is read once at open.
    Env(String),
}

/// The master key: an id (so the keyring can say which one wraps it) and 32 secret bytes.
struct MasterKey {
    id: Uuid,
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({}, <redacted>)", self.id)
    }
}

const MASTER_FILE_LEN: usize = 48;
const META_MASTER: &[u8] = b"meta/master";
const DATA_PREFIX: &[u8] = b"dk/";
const SECRET_LINK: &[u8] = b"secret/link";
const SECRET_FINGERPRINT: &[u8] = b"secret/fingerprint";
const SECRET_IMPORT: &[u8] = b"secret/import";

fn random<const N: usize>() -> Result<Zeroizing<[u8; N]>, KeyringError> {
    let mut b = Zeroizing::new([0u8; N]);
    getrandom::fill(&mut b[..]).map_err(|e| KeyringError::Random(e.to_string()))?;
    Ok(b)
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> KeyringError + '_ {
    move |source| KeyringError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl MasterKey {
    fn generate() -> Result<MasterKey, KeyringError> {
        Ok(MasterKey {
            id: Uuid::now_v7(),
            key: random::<32>()?,
        })
    }

    fn from_bytes(bytes: &[u8], what: &Path) -> Result<MasterKey, KeyringError> {
        if bytes.len() != MASTER_FILE_LEN {
            return Err(KeyringError::BadMasterFile(what.to_path_buf()));
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(&bytes[..16]);
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&bytes[16..]);
        Ok(MasterKey {
            id: Uuid::from_bytes(id),
            key,
        })
    }

    fn read(path: &Path) -> Result<Option<MasterKey>, KeyringError> {
        match fs::read(path) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                MasterKey::from_bytes(&bytes, path).map(Some)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(path)(e)),
        }
    }

    /// Writes the key to `path` (mode 0600) and syncs it and its directory: durable before
    /// anything is wrapped under it.
    fn write(&self, path: &Path) -> Result<(), KeyringError> {
        let mut bytes = Zeroizing::new([0u8; MASTER_FILE_LEN]);
        bytes[..16].copy_from_slice(self.id.as_bytes());
        bytes[16..].copy_from_slice(&self.key[..]);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(io_err(path))?;
        f.write_all(&bytes[..]).map_err(io_err(path))?;
        f.sync_all().map_err(io_err(path))?;
        sync_dir(path)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&(*self.key).into())
    }
}

fn sync_dir(path: &Path) -> Result<(), KeyringError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// Seals `plain` under `key` with a fresh nonce, binding `aad`: `nonce ‖ ciphertext`.
fn seal_with(
    cipher: &XChaCha20Poly1305,
    plain: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, KeyringError> {
    let nonce = random::<24>()?;
    let ct = cipher
        .encrypt(&XNonce::from(*nonce), Payload { msg: plain, aad })
        .map_err(|_| KeyringError::Corrupt("a value to seal".into()))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ct);
    Ok(out)
}

fn open_with(
    cipher: &XChaCha20Poly1305,
    sealed: &[u8],
    aad: &[u8],
    what: &str,
) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
    if sealed.len() < 24 {
        return Err(KeyringError::Corrupt(what.into()));
    }
    let mut nonce = [0u8; 24];
    nonce.copy_from_slice(&sealed[..24]);
    cipher
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: &sealed[24..],
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| KeyringError::Corrupt(what.into()))
}

/// An entry as stored: the id of the master key that wraps it, then `nonce ‖ ciphertext`.
fn wrap(master: &MasterKey, name: &[u8], secret: &[u8]) -> Result<Vec<u8>, KeyringError> {
    let mut aad = name.to_vec();
    aad.extend_from_slice(master.id.as_bytes());
    let mut out = master.id.as_bytes().to_vec();
    out.extend(seal_with(&master.cipher(), secret, &aad)?);
    Ok(out)
}

fn unwrap_entry(
    master: &MasterKey,
    name: &[u8],
    stored: &[u8],
) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
    let what = String::from_utf8_lossy(name).into_owned();
    if stored.len() < 16 || stored[..16] != master.id.as_bytes()[..] {
        return Err(KeyringError::Corrupt(what));
    }
    let mut aad = name.to_vec();
    aad.extend_from_slice(master.id.as_bytes());
    open_with(&master.cipher(), &stored[16..], &aad, &what)
}

fn data_name(id: DataKeyId) -> Vec<u8> {
    let mut n = DATA_PREFIX.to_vec();
    n.extend_from_slice(id.as_uuid().as_bytes());
    n
}

fn sealed_aad(key: KeyId, data_key: DataKeyId) -> [u8; 32] {
    let mut aad = [0u8; 32];
    aad[..16].copy_from_slice(key.as_uuid().as_bytes());
    aad[16..].copy_from_slice(data_key.as_uuid().as_bytes());
    aad
}

/// The keyring of one entitlement service.
pub struct Keyring {
    db: sled::Db,
    dir: PathBuf,
    source: MasterSource,
    master: RwLock<MasterKey>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("dir", &self.dir)
            .field("data_keys", &self.data_keys())
            .finish_non_exhaustive()
    }
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The master key that wraps the keyring now.
    pub master: Uuid,
    /// Entries re-wrapped (live data keys and the service's secrets).
    pub rewrapped: usize,
}

impl Keyring {
    /// Opens the keyring in `dir` with the master key from `source`: a new keyring gets a new
    /// master key (a file source only); an existing one must be opened with the key that wraps
    /// it. A rotation a crash interrupted is finished or discarded first.
    pub fn open(dir: &Path, source: MasterSource) -> Result<Keyring, KeyringError> {
        let db = sled::Config::new().path(dir).open()?;
        let named = db.get(META_MASTER)?.and_then(|v| {
            let b: [u8; 16] = v.as_ref().try_into().ok()?;
            Some(Uuid::from_bytes(b))
        });
        let master = match &source {
            MasterSource::Env(var) => {
                let value = Zeroizing::new(std::env::var(var).unwrap_or_default());
                let bytes = base64_decode(&value)
                    .ok_or_else(|| KeyringError::BadMasterFile(PathBuf::from(var)))?;
                MasterKey::from_bytes(&bytes, Path::new(var))?
            }
            MasterSource::File(path) => Keyring::recover_rotation(path, named)?,
        };
        match named {
            Some(id) if id != master.id => {
                return Err(KeyringError::WrongMaster {
                    keyring: dir.to_path_buf(),
                    master: master_path(&source),
                    expected: id,
                })
            }
            Some(_) => {}
            None => {
                db.insert(META_MASTER, master.id.as_bytes().to_vec())?;
                db.flush()?;
            }
        }
        let ring = Keyring {
            db,
            dir: dir.to_path_buf(),
            source,
            master: RwLock::new(master),
        };
        for name in [SECRET_LINK, SECRET_FINGERPRINT, SECRET_IMPORT] {
            if ring.db.get(name)?.is_none() {
                let secret = random::<32>()?;
                let stored = wrap(&ring.read_master(), name, &secret[..])?;
                ring.db.insert(name, stored)?;
            }
        }
        ring.db.flush()?;
        Ok(ring)
    }

    /// The master key file's key, after finishing or discarding an interrupted rotation: if
    /// `<master>.next` holds the key the keyring names, the rotation was applied and the file
    /// takes its place; otherwise it never was, and `.next` is removed.
    fn recover_rotation(path: &Path, named: Option<Uuid>) -> Result<MasterKey, KeyringError> {
        let next = next_path(path);
        if let Some(n) = MasterKey::read(&next)? {
            if Some(n.id) == named {
                fs::rename(&next, path).map_err(io_err(path))?;
                sync_dir(path)?;
                return Ok(n);
            }
            fs::remove_file(&next).map_err(io_err(&next))?;
            sync_dir(&next)?;
        }
        match MasterKey::read(path)? {
            Some(m) => Ok(m),
            None => {
                let m = MasterKey::generate()?;
                m.write(path)?;
                Ok(m)
            }
        }
    }

    fn read_master(&self) -> std::sync::RwLockReadGuard<'_, MasterKey> {
        self.master.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Seals each key under a new data key of its own and makes the data keys durable (one
    /// flush) before returning: the event that refers to them may be recorded only after.
    /// A crash in between leaves orphan data keys, removed by [`Keyring::remove_orphans`].
    pub fn seal_all<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k ProductKey>,
    ) -> Result<Vec<SealedKey>, KeyringError> {
        let master = self.read_master();
        let fingerprint = self.secret(&master, SECRET_FINGERPRINT)?;
        let mut batch = sled::Batch::default();
        let mut out = Vec::new();
        for k in keys {
            let key = KeyId(Uuid::now_v7());
            let data_key = DataKeyId(Uuid::now_v7());
            let dk = random::<32>()?;
            let sealed = seal_with(
                &XChaCha20Poly1305::new(&(*dk).into()),
                k.expose().as_bytes(),
                &sealed_aad(key, data_key),
            )?;
            let name = data_name(data_key);
            batch.insert(name.clone(), wrap(&master, &name, &dk[..])?);
            let mut nonce = [0u8; 24];
            nonce.copy_from_slice(&sealed[..24]);
            out.push(SealedKey {
                key,
                data_key,
                fingerprint: fingerprint_of(&fingerprint, k),
                nonce,
                ciphertext: sealed[24..].to_vec(),
            });
        }
        self.db.apply_batch(batch)?;
        self.db.flush()?;
        Ok(out)
    }

    /// The keyed fingerprint of a key, as [`Keyring::seal_all`] records it (to refuse a key
    /// csp already holds).
    pub fn fingerprint(&self, key: &ProductKey) -> Result<[u8; 32], KeyringError> {
        let master = self.read_master();
        Ok(fingerprint_of(
            &self.secret(&master, SECRET_FINGERPRINT)?,
            key,
        ))
    }

    /// Opens a sealed key (for a `get_key` reply only): `Shredded` if its data key was destroyed, `Corrupt` if the
    /// ciphertext or its ids were changed.
    pub fn unseal(&self, sealed: &SealedKey) -> Result<ProductKey, KeyringError> {
        let master = self.read_master();
        let name = data_name(sealed.data_key);
        let stored = self
            .db
            .get(&name)?
            .ok_or(KeyringError::Shredded(sealed.data_key))?;
        let dk = unwrap_entry(&master, &name, &stored)?;
        let dk: [u8; 32] = dk[..]
            .try_into()
            .map_err(|_| KeyringError::Corrupt(format!("data key {}", sealed.data_key)))?;
        let dk = Zeroizing::new(dk);
        let mut whole = sealed.nonce.to_vec();
        whole.extend_from_slice(&sealed.ciphertext);
        let plain = open_with(
            &XChaCha20Poly1305::new(&(*dk).into()),
            &whole,
            &sealed_aad(sealed.key, sealed.data_key),
            &format!("key {}", sealed.key),
        )?;
        let text = std::str::from_utf8(&plain)
            .map_err(|_| KeyringError::Corrupt(format!("key {}", sealed.key)))?;
        ProductKey::parse(text).ok_or_else(|| KeyringError::Corrupt(format!("key {}", sealed.key)))
    }

    /// Destroys data keys (crypto-shredding) and makes it durable. Idempotent: a key already
    /// gone is fine. Returns how many were still there.
    pub fn destroy(&self, ids: &[DataKeyId]) -> Result<usize, KeyringError> {
        let mut removed = 0;
        let mut batch = sled::Batch::default();
        for id in ids {
            let name = data_name(*id);
            if self.db.contains_key(&name)? {
                removed += 1;
                batch.remove(name);
            }
        }
        if removed > 0 {
            self.db.apply_batch(batch)?;
            self.db.flush()?;
        }
        Ok(removed)
    }

    /// Whether a data key is still held.
    pub fn holds(&self, id: DataKeyId) -> Result<bool, KeyringError> {
        Ok(self.db.contains_key(data_name(id))?)
    }

    /// How many data keys are held.
    pub fn data_keys(&self) -> usize {
        self.db.scan_prefix(DATA_PREFIX).count()
    }

    /// Removes every data key no recorded event refers to (`referenced` says which do): what a
    /// crash between sealing and recording leaves behind. Returns how many.
    pub fn remove_orphans(
        &self,
        referenced: impl Fn(DataKeyId) -> bool,
    ) -> Result<usize, KeyringError> {
        let mut orphans = Vec::new();
        for entry in self.db.scan_prefix(DATA_PREFIX) {
            let (name, _) = entry?;
            let Ok(b) = <[u8; 16]>::try_from(&name[DATA_PREFIX.len()..]) else {
                continue;
            };
            let id = DataKeyId(Uuid::from_bytes(b));
            if !referenced(id) {
                orphans.push(id);
            }
        }
        self.destroy(&orphans)
    }

    /// HMAC-SHA256 of `message` under the link-signing secret (download links, K3).
    pub fn sign_link(&self, message: &[u8]) -> Result<[u8; 32], KeyringError> {
        let master = self.read_master();
        let secret = self.secret(&master, SECRET_LINK)?;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&secret[..])
            .map_err(|_| KeyringError::Corrupt("the link secret".into()))?;
        mac.update(message);
        Ok(mac.finalize().into_bytes().into())
    }

    /// Checks a link's signature in constant time.
    pub fn verify_link(&self, message: &[u8], signature: &[u8]) -> Result<bool, KeyringError> {
        let master = self.read_master();
        let secret = self.secret(&master, SECRET_LINK)?;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&secret[..])
            .map_err(|_| KeyringError::Corrupt("the link secret".into()))?;
        mac.update(message);
        Ok(mac.verify_slice(signature).is_ok())
    }

    fn secret(&self, master: &MasterKey, name: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
        let stored = self
            .db
            .get(name)?
            .ok_or_else(|| KeyringError::Corrupt(String::from_utf8_lossy(name).into_owned()))?;
        unwrap_entry(master, name, &stored)
    }

    /// The import public key (X25519): key files are sealed to it (a `crypto_box` sealed box)
    /// so plaintext keys never travel on the bus.
    pub fn import_public_key(&self) -> Result<[u8; 32], KeyringError> {
        let master = self.read_master();
        let secret = self.import_secret(&master)?;
        Ok(secret.public_key().to_bytes())
    }

    /// Opens a key file sealed to [`Keyring::import_public_key`].
    pub fn open_import(&self, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
        let master = self.read_master();
        let secret = self.import_secret(&master)?;
        secret
            .unseal(sealed)
            .map(Zeroizing::new)
            .map_err(|_| KeyringError::Corrupt("the sealed key file".into()))
    }

    fn import_secret(&self, master: &MasterKey) -> Result<crypto_box::SecretKey, KeyringError> {
        let bytes = self.secret(master, SECRET_IMPORT)?;
        let b: [u8; 32] = bytes[..]
            .try_into()
            .map_err(|_| KeyringError::Corrupt("the import secret".into()))?;
        Ok(crypto_box::SecretKey::from_bytes(b))
    }

    /// Rotates the master key: a new one, durable in `<master>.next`; every entry re-wrapped
    /// under it in one durable batch that also names it; then it replaces the old file. See
    /// the module documentation for what a crash at each step leaves.
    pub fn rotate_master(&self) -> Result<Rotation, KeyringError> {
        let path = match &self.source {
            MasterSource::File(p) => p.clone(),
            MasterSource::Env(v) => return Err(KeyringError::NotRotatable(v.clone())),
        };
        let mut master = self.master.write().unwrap_or_else(|p| p.into_inner());
        let next = MasterKey::generate()?;
        next.write(&next_path(&path))?;
        csp_bus::crash::point("rotation_after_next_written");
        let mut batch = sled::Batch::default();
        let mut rewrapped = 0;
        for entry in self.db.iter() {
            let (name, stored) = entry?;
            if name.as_ref() == META_MASTER {
                continue;
            }
            let secret = unwrap_entry(&master, &name, &stored)?;
            batch.insert(name.clone(), wrap(&next, &name, &secret)?);
            rewrapped += 1;
        }
        batch.insert(META_MASTER, next.id.as_bytes().to_vec());
        self.db.apply_batch(batch)?;
        self.db.flush()?;
        csp_bus::crash::point("rotation_after_rewrap");
        fs::rename(next_path(&path), &path).map_err(io_err(&path))?;
        sync_dir(&path)?;
        *master = next;
        Ok(Rotation {
            master: master.id,
            rewrapped,
        })
    }

    /// The id of the master key that wraps the keyring.
    pub fn master_id(&self) -> Uuid {
        self.read_master().id
    }
}

fn fingerprint_of(secret: &[u8], key: &ProductKey) -> [u8; 32] {
    // HMAC accepts any key length: this cannot fail.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret) else {
        return [0; 32];
    };
    mac.update(key.normalised().as_bytes());
    mac.finalize().into_bytes().into()
}

fn next_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".next");
    PathBuf::from(p)
}

fn master_path(source: &MasterSource) -> PathBuf {
    match source {
        MasterSource::File(p) => p.clone(),
        MasterSource::Env(v) => PathBuf::from(format!("${v}")),
    }
}

fn base64_decode(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
        .map(Zeroizing::new)
}

/// Seals `plain` to an import public key (a `crypto_box` sealed box): what `csp keys import`
/// sends, so only the entitlement service can open it.
pub fn seal_for_import(public_key: [u8; 32], plain: &[u8]) -> Result<Vec<u8>, KeyringError> {
    crypto_box::PublicKey::from_bytes(public_key)
        .seal(&mut crypto_box::aead::OsRng, plain)
        .map_err(|_| KeyringError::Random("sealing the key file".into()))
}

/// The base64 form of a new master key, for `CSP_MASTER_KEY`-style environment variables.
pub fn new_master_key_base64() -> Result<Zeroizing<String>, KeyringError> {
    use base64::Engine as _;
    let m = MasterKey::generate()?;
    let mut bytes = Zeroizing::new([0u8; MASTER_FILE_LEN]);
    bytes[..16].copy_from_slice(m.id.as_bytes());
    bytes[16..].copy_from_slice(&m.key[..]);
    Ok(Zeroizing::new(
        base64::engine::general_purpose::STANDARD.encode(&bytes[..]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dirs {
        _root: TempRoot,
        ring: PathBuf,
        master: PathBuf,
    }

    /// A directory removed on drop (the testkit's needs tokio; this stays synchronous).
    struct TempRoot(PathBuf);

    impl Drop for TempRoot {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn dirs(name: &str) -> Dirs {
        let root = std::env::temp_dir().join(format!(
            "csp-keyring-{name}-{}-{}",
            std::process::id(),
            Uuid::now_v7()
        ));
        fs::create_dir_all(root.join("data")).unwrap();
        fs::create_dir_all(root.join("secrets")).unwrap();
        Dirs {
            ring: root.join("data").join("keyring"),
            master: root.join("secrets").join("master.key"),
            _root: TempRoot(root),
        }
    }

    fn key(s: &str) -> ProductKey {
        ProductKey::parse(s).unwrap()
    }

    const K1: &str = "BCDFG-HJKMP-QRTVW-XY234-67896";
    const K2: &str = "XY234-67896-BCDFG-HJKMP-QRTVW";

    #[test]
    fn each_key_has_its_own_data_key_two_seals_differ_and_a_flipped_byte_does_not_open() {
        let d = dirs("seal");
        let ring = Keyring::open(&d.ring, MasterSource::File(d.master.clone())).unwrap();
        let sealed = ring.seal_all(&[key(K1), key(K1), key(K2)]).unwrap();
        assert_eq!(ring.data_keys(), 3, "one data key per product key");
        assert_ne!(sealed[0].data_key, sealed[1].data_key);
        assert_ne!(
            sealed[0].ciphertext, sealed[1].ciphertext,
            "two seals of one key differ"
        );
        assert_eq!(
            sealed[0].fingerprint, sealed[1].fingerprint,
            "one key, one fingerprint"
        );
        assert_ne!(sealed[0].fingerprint, sealed[2].fingerprint);
        assert_eq!(ring.unseal(&sealed[0]).unwrap().expose(), K1);
        assert_eq!(ring.unseal(&sealed[2]).unwrap().expose(), K2);

        for i in 0..sealed[0].ciphertext.len() {
            let mut bad = sealed[0].clone();
            bad.ciphertext[i] ^= 1;
            assert!(
                matches!(ring.unseal(&bad), Err(KeyringError::Corrupt(_))),
                "byte {i}"
            );
        }
        let mut moved = sealed[0].clone();
        moved.key = sealed[1].key;
        assert!(
            matches!(ring.unseal(&moved), Err(KeyringError::Corrupt(_))),
            "bound to its id"
        );
        let mut other_dk = sealed[0].clone();
        other_dk.data_key = sealed[1].data_key;
        assert!(ring.unseal(&other_dk).is_err(), "bound to its data key");
    }

    #[test]
    fn a_destroyed_data_key_shreds_its_key_only_and_survives_a_reopen() {
        let d = dirs("shred");
        let sealed = {
            let ring = Keyring::open(&d.ring, MasterSource::File(d.master.clone())).unwrap();
            let sealed = ring.seal_all(&[key(K1), key(K2)]).unwrap();
            assert_eq!(ring.destroy(&[sealed[0].data_key]).unwrap(), 1);
            assert_eq!(
                ring.destroy(&[sealed[0].data_key]).unwrap(),
                0,
                "idempotent"
            );
            sealed
        };
        let ring = Keyring::open(&d.ring, MasterSource::File(d.master.clone())).unwrap();
        assert!(matches!(
            ring.unseal(&sealed[0]),
            Err(KeyringError::Shredded(_))
        ));
        assert_eq!(ring.unseal(&sealed[1]).unwrap().expose(), K2);
    }

    #[test]
    fn a_keyring_opens_only_with_the_master_key_that_wraps_it() {
        let d = dirs("master");
        drop(Keyring::open(&d.ring, MasterSource::File(d.master.clone())).unwrap());
        let other = d.master.with_file_name("other.key");
        MasterKey::generate().unwrap().write(&other).unwrap();
        let e = Keyring::open(&d.ring, MasterSource::File(other)).unwrap_err();
        assert!(matches!(e, KeyringError::WrongMaster { .. }), "{e}");
        fs::write(&d.master, b"short").unwrap();
        let e = Keyring::open(&d.ring, MasterSource::File(d.master.clone())).unwrap_err();
        assert!(matches!(e, KeyringError::BadMasterFile(_)), "{e}");
    }

    #[test]
    fn rotation_rewraps_every_live_entry_and_the_old_master_key_is_gone() {
        let d = dirs("rotate");
        let ring = Keyring::open(&d.ring, MasterSource::File(d.master.clone())).unwrap();
        let sealed = ring.seal_all(&[key(K1), key(K2)]).unwrap();
        let link = ring.sign_link(b"link").unwrap();
        let old_file = fs::read(&d.master).unwrap();
        let old = ring.master_id();
        let r = ring.rotate_master().unwrap();
        assert_ne!(r.master, old);
        assert_eq!(r.rewrapped, 5, "two data keys and three secrets");
        assert_ne!(
            fs::read(&d.master).unwrap(),
            old_file,
            "the old key file is replaced"
        );
        assert!(!next_path(&d.master).exists());
        assert_eq!(ring.unseal(&sealed[1]).unwrap().expose(), K2);
        assert_eq!(
            ring.sign_link(b"link").unwrap(),
            link,
            "secrets survive rotation"
        );
        drop(ring);
        let ring = Keyring::open(&d.ring, MasterSource::File(d.master.clone())).unwrap();
        assert_eq!(ring.master_id(), r.master);
        assert_eq!(ring.unseal(&sealed[0]).unwrap().expose(), K1);
        // The old master key opens nothing any more: every entry names the new one.
        let old_key = MasterKey::from_bytes(&old_file, &d.master).unwrap();
        let name = data_name(sealed[0].data_key);
        let stored = ring.db.get(&name).unwrap().unwrap();
        assert!(unwrap_entry(&old_key, &name, &stored).is_err());
    }

    #[test]
    fn an_interrupted_rotation_is_finished_or_discarded_at_open_losing_no_key() {
        let d = dirs("recover");
        let sealed = {
            let ring = Keyring::open(&d.ring, MasterSource::File(d.master.clone())).unwrap();
            ring.seal_all(&[key(K1)]).unwrap()
        };
        // Crashed after writing `.next`, before re-wrapping: the keyring still names the old
        // key; `.next` is discarded.
        MasterKey::generate()
            .unwrap()
            .write(&next_path(&d.master))
            .unwrap();
        let ring = Keyring::open(&d.ring, MasterSource::File(d.master.clone())).unwrap();
        assert!(!next_path(&d.master).exists());
        assert_eq!(ring.unseal(&sealed[0]).unwrap().expose(), K1);
        // Crashed after re-wrapping, before replacing the file: the keyring names `.next`'s
        // key, which takes the old one's place.
        let before = ring.master_id();
        let r = ring.rotate_master().unwrap();
        drop(ring);
        let applied = fs::read(&d.master).unwrap();
        fs::rename(&d.master, next_path(&d.master)).unwrap();
        fs::write(
            &d.master,
            b"0123456789abcdef0123456789abcdef0123456789abcdef",
        )
        .unwrap();
        let ring = Keyring::open(&d.ring, MasterSource::File(d.master.clone())).unwrap();
        assert_eq!(ring.master_id(), r.master);
        assert_ne!(ring.master_id(), before);
        assert_eq!(fs::read(&d.master).unwrap(), applied);
        assert!(!next_path(&d.master).exists());
        assert_eq!(ring.unseal(&sealed[0]).unwrap().expose(), K1);
    }

    #[test]
    fn orphan_data_keys_are_removed_and_links_verify_only_with_their_signature() {
        let d = dirs("orphans");
        let ring = Keyring::open(&d.ring, MasterSource::File(d.master.clone())).unwrap();
        let sealed = ring.seal_all(&[key(K1), key(K2)]).unwrap();
        let kept = sealed[0].data_key;
        assert_eq!(ring.remove_orphans(|id| id == kept).unwrap(), 1);
        assert!(ring.holds(kept).unwrap());
        assert!(!ring.holds(sealed[1].data_key).unwrap());

        let sig = ring.sign_link(b"entitlement/x").unwrap();
        assert!(ring.verify_link(b"entitlement/x", &sig).unwrap());
        assert!(!ring.verify_link(b"entitlement/y", &sig).unwrap());
        let mut bad = sig;
        bad[0] ^= 1;
        assert!(!ring.verify_link(b"entitlement/x", &bad).unwrap());
        let shown = format!("{:?} {ring:?}", *ring.read_master());
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(
            !shown.contains(&format!("{:?}", &ring.read_master().key[..])),
            "{shown}"
        );
    }
}
