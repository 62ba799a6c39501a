//! The verifier end to end through the public API: tokens minted by csp's own issuers, tokens
//! crafted by hand (other algorithms, tampered payloads, extra claims), and issuer-kind rules.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use csp_auth::{
    AuthConfig, AuthError, ConfigError, DevIssuer, InternalIssuer, IssuerConfig, IssuerKind,
    Verified, Verifier, CLOCK_LEEWAY_SECS, DEV_ISSUER, MAX_TOKEN_LEN,
};
use csp_events::{Actor, ActorKind, ErrorCode, Role, TenantId, TokenClaims};
use ed25519_dalek::{Signer as _, SigningKey};

const NOW: i64 = 1_700_000_000;
const PARTNER_ISS: &str = "https://idp.contoso.example";
const PLATFORM_ISS: &str = "https://ops.csp.example";
const CUSTOMER_ISS: &str = "https://login.fabrikam.example";

const DEV_SEED: [u8; 32] = [1; 32];
const PARTNER_SEED: [u8; 32] = [2; 32];
const PARTNER_NEXT_SEED: [u8; 32] = [3; 32];
const PLATFORM_SEED: [u8; 32] = [4; 32];
const INTERNAL_SEED: [u8; 32] = [5; 32];
const CUSTOMER_SEED: [u8; 32] = [6; 32];
const STRANGER_SEED: [u8; 32] = [9; 32];

fn tenant(n: u128) -> TenantId {
    TenantId(uuid::Uuid::from_u128(n))
}

fn partner_tenant() -> TenantId {
    tenant(0xC0)
}

fn customer_tenant() -> TenantId {
    tenant(0xCAFE)
}

/// A signer for any `iss`: `DevIssuer::mint` signs the claims as given, so a seeded dev issuer
/// stands in for a partner's or the platform's identity provider.
fn signer(seed: [u8; 32]) -> DevIssuer {
    DevIssuer::from_seed(seed)
}

fn config() -> AuthConfig {
    AuthConfig {
        issuers: vec![
            DevIssuer::from_seed(DEV_SEED).issuer_config(),
            IssuerConfig {
                iss: PARTNER_ISS.into(),
                kind: IssuerKind::Partner,
                tenant: Some(partner_tenant()),
                public_keys: vec![
                    signer(PARTNER_SEED).public_key_base64(),
                    signer(PARTNER_NEXT_SEED).public_key_base64(),
                ],
            },
            IssuerConfig {
                iss: CUSTOMER_ISS.into(),
                kind: IssuerKind::Customer,
                tenant: Some(customer_tenant()),
                public_keys: vec![signer(CUSTOMER_SEED).public_key_base64()],
            },
            IssuerConfig {
                iss: PLATFORM_ISS.into(),
                kind: IssuerKind::Platform,
                tenant: None,
                public_keys: vec![signer(PLATFORM_SEED).public_key_base64()],
            },
            InternalIssuer::from_seed(INTERNAL_SEED).issuer_config(),
        ],
    }
}

fn verifier() -> Verifier {
    Verifier::new(config()).expect("valid config")
}

fn claims(iss: &str, kind: ActorKind, tid: TenantId, roles: &[Role]) -> TokenClaims {
    TokenClaims {
        iss: iss.into(),
        sub: "alice@contoso.example".into(),
        aud: "csp".into(),
        exp: NOW + 300,
        iat: NOW - 5,
        nbf: None,
        tid,
        kind,
        roles: roles.to_vec(),
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn verify(token: &str) -> Result<Verified, AuthError> {
    verifier().verify(Some(bearer(token).as_str()), NOW)
}

/// Verifies and checks the error never quotes the token.
fn refused(token: &str) -> AuthError {
    let err = verify(token).expect_err("the token must be refused");
    assert!(
        !err.message().contains(token),
        "the message echoes the token"
    );
    assert_eq!(err.code(), ErrorCode::Unauthenticated);
    err
}

/// A JWT signed with Ed25519 over arbitrary header and payload JSON.
fn sign_raw(seed: [u8; 32], header: &str, payload: &str) -> String {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = SigningKey::from_bytes(&seed).sign(message.as_bytes());
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

#[test]
fn a_valid_token_verifies_to_its_actor() {
    let dev = DevIssuer::from_seed(DEV_SEED);
    let token = dev.mint_for(
        ActorKind::Partner,
        tenant(7),
        "alice",
        &[Role::AdminAgent, Role::GlobalAdmin],
        600,
        NOW,
    );
    let verified = verify(&token).expect("valid");
    assert_eq!(
        verified.actor,
        Actor {
            kind: ActorKind::Partner,
            tenant: tenant(7),
            user: "alice".into(),
            roles: vec![Role::AdminAgent, Role::GlobalAdmin],
        }
    );
    assert_eq!(verified.issuer_kind, IssuerKind::Development);
    assert_eq!(verified.claims.iss, DEV_ISSUER);
    assert_eq!(verified.claims.exp, NOW + 600);
}

#[test]
fn a_missing_or_empty_header_is_missing() {
    assert_eq!(verifier().verify(None, NOW), Err(AuthError::Missing));
    assert_eq!(verifier().verify(Some(""), NOW), Err(AuthError::Missing));
}

#[test]
fn a_header_that_is_not_bearer_is_malformed() {
    let token = DevIssuer::from_seed(DEV_SEED).mint_for(
        ActorKind::Customer,
        tenant(1),
        "bob",
        &[Role::GlobalAdmin],
        60,
        NOW,
    );
    for header in [
        token.clone(),
        format!("Basic {token}"),
        format!("Token {token}"),
    ] {
        let err = verifier()
            .verify(Some(header.as_str()), NOW)
            .expect_err("refused");
        assert!(matches!(err, AuthError::Malformed { .. }), "{err:?}");
        assert!(!err.message().contains(&token));
    }
}

#[test]
fn garbage_is_malformed() {
    for token in [
        "garbage",
        "a.b",
        "a.b.c.d",
        "!!!.???.###",
        "e30.e30.",
        "eyJhbGciOiJFZERTQSJ9.bm90IGpzb24.c2ln",
    ] {
        let err = refused(token);
        assert!(
            matches!(err, AuthError::Malformed { .. }),
            "{token}: {err:?}"
        );
    }
}

#[test]
fn an_oversized_token_is_malformed_before_any_decoding() {
    let token = "a".repeat(MAX_TOKEN_LEN + 1);
    assert!(matches!(refused(&token), AuthError::Malformed { .. }));
}

#[test]
fn an_expired_token_is_refused_beyond_the_leeway() {
    let dev = DevIssuer::from_seed(DEV_SEED);
    let mut c = claims(DEV_ISSUER, ActorKind::Customer, tenant(1), &[]);
    c.iat = NOW - 3600;
    c.exp = NOW - CLOCK_LEEWAY_SECS - 1;
    assert_eq!(refused(&dev.mint(&c)), AuthError::Expired { exp: c.exp });
    // Within the leeway, clock skew is forgiven.
    c.exp = NOW - CLOCK_LEEWAY_SECS + 1;
    assert!(verify(&dev.mint(&c)).is_ok());
}

#[test]
fn a_token_not_yet_valid_is_refused() {
    let dev = DevIssuer::from_seed(DEV_SEED);
    let mut c = claims(DEV_ISSUER, ActorKind::Customer, tenant(1), &[]);
    c.nbf = Some(NOW + 120);
    assert_eq!(
        refused(&dev.mint(&c)),
        AuthError::NotYetValid {
            not_before: NOW + 120
        }
    );
    // Issued in the future, beyond the leeway.
    c.nbf = None;
    c.iat = NOW + 3600;
    c.exp = NOW + 7200;
    assert_eq!(
        refused(&dev.mint(&c)),
        AuthError::NotYetValid {
            not_before: NOW + 3600
        }
    );
    // An nbf already passed is fine.
    c.iat = NOW;
    c.nbf = Some(NOW - 10);
    assert!(verify(&dev.mint(&c)).is_ok());
}

#[test]
fn a_tampered_payload_is_a_bad_signature() {
    let dev = DevIssuer::from_seed(DEV_SEED);
    let c = claims(
        DEV_ISSUER,
        ActorKind::Partner,
        tenant(1),
        &[Role::SalesAgent],
    );
    let token = dev.mint(&c);
    let parts: Vec<&str> = token.split('.').collect();
    let mut forged = c.clone();
    forged.roles = vec![Role::AdminAgent];
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).expect("json"));
    let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
    assert_eq!(refused(&tampered), AuthError::BadSignature);
}

#[test]
fn a_token_signed_by_another_key_for_a_known_issuer_is_a_bad_signature() {
    let c = claims(DEV_ISSUER, ActorKind::Platform, tenant(1), &[Role::Support]);
    assert_eq!(
        refused(&signer(STRANGER_SEED).mint(&c)),
        AuthError::BadSignature
    );
    // The partner issuer's keys do not vouch for the development issuer either.
    assert_eq!(
        refused(&signer(PARTNER_SEED).mint(&c)),
        AuthError::BadSignature
    );
}

#[test]
fn an_unknown_issuer_is_refused() {
    let c = claims(
        "https://idp.fabrikam.example",
        ActorKind::Customer,
        tenant(1),
        &[],
    );
    assert_eq!(
        refused(&signer(STRANGER_SEED).mint(&c)),
        AuthError::UnknownIssuer {
            iss: "https://idp.fabrikam.example".into()
        }
    );
}

#[test]
fn a_token_for_another_audience_is_refused() {
    let mut c = claims(DEV_ISSUER, ActorKind::Customer, tenant(1), &[]);
    c.aud = "billing-portal".into();
    assert_eq!(
        refused(&signer(DEV_SEED).mint(&c)),
        AuthError::WrongAudience {
            aud: "billing-portal".into()
        }
    );
}

#[test]
fn alg_none_and_hmac_tokens_are_refused() {
    let c = claims(
        PARTNER_ISS,
        ActorKind::Partner,
        partner_tenant(),
        &[Role::AdminAgent],
    );
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).expect("json"));

    for alg in ["none", "None", "eddsa", "ES256", "RS256", ""] {
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
        for token in [
            format!("{header}.{payload}."),
            format!("{header}.{payload}.c2lnbmF0dXJl"),
        ] {
            assert_eq!(
                refused(&token),
                AuthError::UnsupportedAlgorithm { alg: alg.into() },
                "{alg}"
            );
        }
    }

    // The classic confusion attack: HMAC with the issuer's public key as the shared secret, in
    // both the raw and the configured (base64 text) form.
    let public_b64 = signer(PARTNER_SEED).public_key_base64();
    let public_raw = SigningKey::from_bytes(&PARTNER_SEED)
        .verifying_key()
        .to_bytes();
    for secret in [public_raw.as_slice(), public_b64.as_bytes()] {
        for alg in ["HS256", "HS384", "HS512"] {
            let token = hmac_token(alg, secret, &payload);
            assert_eq!(
                refused(&token),
                AuthError::UnsupportedAlgorithm { alg: alg.into() }
            );
        }
    }
}

/// A correctly HMAC-signed token (`jsonwebtoken` here has no HMAC signer: csp builds it without
/// crypto features).
fn hmac_token(alg: &str, secret: &[u8], payload: &str) -> String {
    use hmac::{Hmac, Mac};
    let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"typ":"JWT","alg":"{alg}"}}"#));
    let message = format!("{header}.{payload}");
    let tag = match alg {
        "HS256" => Hmac::<sha2::Sha256>::new_from_slice(secret)
            .expect("any key length")
            .chain_update(&message)
            .finalize()
            .into_bytes()
            .to_vec(),
        "HS384" => Hmac::<sha2::Sha384>::new_from_slice(secret)
            .expect("any key length")
            .chain_update(&message)
            .finalize()
            .into_bytes()
            .to_vec(),
        "HS512" => Hmac::<sha2::Sha512>::new_from_slice(secret)
            .expect("any key length")
            .chain_update(&message)
            .finalize()
            .into_bytes()
            .to_vec(),
        other => panic!("not an HMAC algorithm: {other}"),
    };
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(tag))
}

#[test]
fn a_crit_header_is_refused() {
    let c = claims(DEV_ISSUER, ActorKind::Customer, tenant(1), &[]);
    let token = sign_raw(
        DEV_SEED,
        r#"{"alg":"EdDSA","crit":["exp"],"exp":1}"#,
        &serde_json::to_string(&c).expect("json"),
    );
    assert!(matches!(refused(&token), AuthError::Malformed { .. }));
}

#[test]
fn validly_signed_claims_with_an_unknown_field_are_malformed() {
    let c = claims(DEV_ISSUER, ActorKind::Customer, tenant(1), &[]);
    let mut value = serde_json::to_value(&c).expect("json");
    value["admin"] = serde_json::Value::Bool(true);
    let token = sign_raw(
        DEV_SEED,
        r#"{"alg":"EdDSA","typ":"JWT"}"#,
        &value.to_string(),
    );
    let err = refused(&token);
    assert!(
        matches!(&err, AuthError::Malformed { reason } if reason.contains("admin")),
        "{err:?}"
    );
}

#[test]
fn a_payload_naming_two_issuers_is_refused() {
    // A lenient parser might select the keys by one `iss` and a strict one read the other.
    let payload = format!(
        r#"{{"iss":"{DEV_ISSUER}","sub":"a","aud":"csp","exp":{},"iat":{NOW},
            "tid":"00000000-0000-0000-0000-000000000001","kind":"platform",
            "roles":["support"],"iss":"{PLATFORM_ISS}"}}"#,
        NOW + 60
    );
    let token = sign_raw(DEV_SEED, r#"{"alg":"EdDSA"}"#, &payload);
    assert!(matches!(refused(&token), AuthError::Malformed { .. }));
}

#[test]
fn a_partner_issuer_mints_partner_tokens_for_its_own_tenant_only() {
    let partner = signer(PARTNER_SEED);
    let own = claims(
        PARTNER_ISS,
        ActorKind::Partner,
        partner_tenant(),
        &[Role::AdminAgent, Role::BillingAdmin],
    );
    let verified = verify(&partner.mint(&own)).expect("own tenant");
    assert_eq!(verified.issuer_kind, IssuerKind::Partner);
    assert_eq!(verified.actor.tenant, partner_tenant());

    let other_tenant = claims(
        PARTNER_ISS,
        ActorKind::Partner,
        tenant(0xBAD),
        &[Role::AdminAgent],
    );
    assert!(matches!(
        refused(&partner.mint(&other_tenant)),
        AuthError::NotAllowed { .. }
    ));

    let importer = claims(
        PARTNER_ISS,
        ActorKind::Partner,
        partner_tenant(),
        &[Role::Importer],
    );
    let err = refused(&partner.mint(&importer));
    assert!(
        matches!(&err, AuthError::NotAllowed { reason } if reason.contains("importer")),
        "{err:?}"
    );

    let platform = claims(
        PARTNER_ISS,
        ActorKind::Platform,
        partner_tenant(),
        &[Role::Support],
    );
    assert!(matches!(
        refused(&partner.mint(&platform)),
        AuthError::NotAllowed { .. }
    ));
}

#[test]
fn a_partner_issuer_cannot_mint_a_customer_token() {
    // A customer's global admin sees every item of its tenant, whichever partner sold it: a
    // partner's IdP minting one would let any partner read any customer's keys.
    let partner = signer(PARTNER_SEED);
    let admin = claims(
        PARTNER_ISS,
        ActorKind::Customer,
        customer_tenant(),
        &[Role::GlobalAdmin],
    );
    let err = refused(&partner.mint(&admin));
    assert!(
        matches!(&err, AuthError::NotAllowed { reason } if reason.contains("partner tokens")),
        "{err:?}"
    );
}

#[test]
fn a_customer_issuer_mints_its_own_customers_global_admins_only() {
    let customer = signer(CUSTOMER_SEED);
    let admin = claims(
        CUSTOMER_ISS,
        ActorKind::Customer,
        customer_tenant(),
        &[Role::GlobalAdmin],
    );
    let verified = verify(&customer.mint(&admin)).expect("customer global admin");
    assert_eq!(verified.issuer_kind, IssuerKind::Customer);
    assert_eq!(verified.actor.kind, ActorKind::Customer);
    assert_eq!(verified.actor.tenant, customer_tenant());

    for (kind, tid, roles) in [
        (
            ActorKind::Customer,
            tenant(0xBEEF),
            &[Role::GlobalAdmin][..],
        ),
        (
            ActorKind::Customer,
            customer_tenant(),
            &[Role::AdminAgent][..],
        ),
        (
            ActorKind::Partner,
            customer_tenant(),
            &[Role::AdminAgent][..],
        ),
        (ActorKind::Platform, customer_tenant(), &[Role::Support][..]),
    ] {
        let c = claims(CUSTOMER_ISS, kind, tid, roles);
        assert!(
            matches!(refused(&customer.mint(&c)), AuthError::NotAllowed { .. }),
            "{kind:?} {tid} {roles:?}"
        );
    }
}

#[test]
fn every_key_of_a_rotating_issuer_verifies() {
    let c = claims(
        PARTNER_ISS,
        ActorKind::Partner,
        partner_tenant(),
        &[Role::SalesAgent],
    );
    assert!(verify(&signer(PARTNER_SEED).mint(&c)).is_ok());
    assert!(verify(&signer(PARTNER_NEXT_SEED).mint(&c)).is_ok());
    assert_eq!(
        refused(&signer(STRANGER_SEED).mint(&c)),
        AuthError::BadSignature
    );
}

#[test]
fn the_platform_issuer_mints_importer_and_support_only() {
    let platform = signer(PLATFORM_SEED);
    let support = claims(
        PLATFORM_ISS,
        ActorKind::Platform,
        tenant(1),
        &[Role::Support],
    );
    assert_eq!(
        verify(&platform.mint(&support))
            .expect("support")
            .issuer_kind,
        IssuerKind::Platform
    );
    let agent = claims(
        PLATFORM_ISS,
        ActorKind::Platform,
        tenant(1),
        &[Role::AdminAgent],
    );
    assert!(matches!(
        refused(&platform.mint(&agent)),
        AuthError::NotAllowed { .. }
    ));
}

#[test]
fn internal_service_tokens_verify_and_carry_only_role_service() {
    let internal = InternalIssuer::from_seed(INTERNAL_SEED);
    let verified = verify(&internal.mint_service("ordering", 60, NOW)).expect("service token");
    assert_eq!(verified.actor, Actor::system("ordering"));
    assert_eq!(verified.issuer_kind, IssuerKind::Internal);

    let support = internal.mint_for(
        ActorKind::Platform,
        tenant(1),
        "csp-ordering",
        &[Role::Support],
        60,
        NOW,
    );
    assert!(matches!(refused(&support), AuthError::NotAllowed { .. }));
}

#[test]
fn configuration_mistakes_are_refused_at_start() {
    let key = signer(PARTNER_SEED).public_key_base64();
    let issuer = |iss: &str, kind, tenant, keys: Vec<String>| IssuerConfig {
        iss: iss.into(),
        kind,
        tenant,
        public_keys: keys,
    };
    let build = |issuers| Verifier::new(AuthConfig { issuers });

    assert!(matches!(build(vec![]), Err(ConfigError::NoIssuers)));
    assert!(matches!(
        build(vec![issuer(
            "p",
            IssuerKind::Partner,
            None,
            vec![key.clone()]
        )]),
        Err(ConfigError::TenantRequired { .. })
    ));
    assert!(matches!(
        build(vec![issuer(
            "c",
            IssuerKind::Customer,
            None,
            vec![key.clone()]
        )]),
        Err(ConfigError::TenantRequired {
            kind: IssuerKind::Customer,
            ..
        })
    ));
    assert!(matches!(
        build(vec![issuer(
            "p",
            IssuerKind::Platform,
            Some(tenant(1)),
            vec![key.clone()]
        )]),
        Err(ConfigError::UnexpectedTenant { .. })
    ));
    assert!(matches!(
        build(vec![issuer("p", IssuerKind::Platform, None, vec![])]),
        Err(ConfigError::NoKeys { .. })
    ));
    assert!(matches!(
        build(vec![issuer(
            "p",
            IssuerKind::Platform,
            None,
            vec![key.clone(), "AAAA".into()]
        )]),
        Err(ConfigError::BadKey { index: 1, .. })
    ));
    assert!(matches!(
        build(vec![issuer(
            " ",
            IssuerKind::Platform,
            None,
            vec![key.clone()]
        )]),
        Err(ConfigError::EmptyIss { index: 0 })
    ));
    assert!(matches!(
        build(vec![
            issuer("p", IssuerKind::Platform, None, vec![key.clone()]),
            issuer("p", IssuerKind::Internal, None, vec![key]),
        ]),
        Err(ConfigError::DuplicateIssuer { .. })
    ));
}

#[test]
fn the_config_file_loads_and_verifies() {
    let dir = std::env::temp_dir().join(format!("csp-auth-config-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir(&dir).expect("dir");
    let path = dir.join("auth.json");
    let json = serde_json::to_string_pretty(&config()).expect("json");
    std::fs::write(&path, json).expect("write");
    let loaded = AuthConfig::load(&path);
    let missing = AuthConfig::load(dir.join("absent.json"));
    let _ = std::fs::remove_dir_all(&dir);

    let verifier = Verifier::new(loaded.expect("loads")).expect("valid");
    let mut kinds: Vec<_> = verifier.issuers().map(|(_, kind)| kind).collect();
    kinds.sort_by_key(|k| k.as_str());
    assert_eq!(
        kinds,
        [
            IssuerKind::Customer,
            IssuerKind::Development,
            IssuerKind::Internal,
            IssuerKind::Partner,
            IssuerKind::Platform
        ]
    );
    assert!(matches!(missing, Err(ConfigError::Io { .. })));
}

#[test]
fn a_remembered_token_is_still_checked_against_the_time_and_tampering_is_not_remembered() {
    let v = verifier();
    let dev = DevIssuer::from_seed(DEV_SEED);
    let c = claims(DEV_ISSUER, ActorKind::Customer, tenant(1), &[]);
    let token = dev.mint(&c);
    // First use verifies the signature; the second is answered from memory, identically.
    let first = v.verify(Some(bearer(&token).as_str()), NOW).unwrap();
    assert_eq!(v.verify(Some(bearer(&token).as_str()), NOW).unwrap(), first);
    // Remembered or not, an expired token is refused.
    assert_eq!(
        v.verify(Some(bearer(&token).as_str()), c.exp + CLOCK_LEEWAY_SECS + 1),
        Err(AuthError::Expired { exp: c.exp })
    );
    // A token differing in one signature byte is another token: verified, and refused.
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(
        v.verify(Some(bearer(&tampered).as_str()), NOW),
        Err(AuthError::BadSignature)
    );
    // Debug output never shows remembered tokens.
    assert!(!format!("{v:?}").contains(&token));
}
