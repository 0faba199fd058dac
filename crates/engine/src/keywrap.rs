//! Wrapping the data key under a person's private key or recovery code.
//!
//! `Argon2id(secret, salt, params)` gives a 32-byte key-encryption key that
//! seals the data key with AES-256-GCM. The service stores only the
//! [`WrappedKey`] JSON, so without the secret it cannot open the data key.
//! See `docs/format.md` ("Wrapped keys").

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::crypto::{self, DataKey, NONCE_LEN, TAG_LEN};
use crate::error::{Error, ErrorKind, Result};

const KDF_NAME: &str = "argon2id";
const WRAP_VERSION: u32 = 1;
/// Salt length written by [`WrappedKey::wrap`]; longer salts are accepted.
const WRAP_SALT_LEN: usize = 16;
/// Sealed data key: 32 bytes of key plus the GCM tag.
const CIPHERTEXT_LEN: usize = 32 + TAG_LEN;
/// Upper bounds on parameters read from the service, so a hostile or broken
/// record cannot make a device allocate gigabytes or spin for hours.
const MAX_M_KIB: u32 = 4 << 20; // 4 GiB
const MAX_T: u32 = 64;
const MAX_P: u32 = 64;
const MAX_SALT_LEN: usize = 64;

/// Argon2id cost parameters, stored beside each wrapped key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes over the memory.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 1 lane: the minimum the product promises.
    fn default() -> KdfParams {
        KdfParams {
            m_kib: 64 * 1024,
            t: 3,
            p: 1,
        }
    }
}

impl KdfParams {
    /// 64 KiB, 1 pass: fast enough for unit tests, far too weak for real keys.
    pub fn insecure_for_tests() -> KdfParams {
        KdfParams {
            m_kib: 64,
            t: 1,
            p: 1,
        }
    }

    fn validate(&self) -> Result<argon2::Params> {
        let bad = |what: String| Error::new(ErrorKind::InvalidInput, what);
        if self.m_kib > MAX_M_KIB || self.t > MAX_T || self.p > MAX_P {
            return Err(bad(format!(
                "key derivation parameters too large: {}",
                self.describe()
            )));
        }
        argon2::Params::new(self.m_kib, self.t, self.p, Some(32)).map_err(|e| {
            bad(format!(
                "unusable key derivation parameters {}: {e}",
                self.describe()
            ))
        })
    }

    fn describe(&self) -> String {
        format!("m={} KiB t={} p={}", self.m_kib, self.t, self.p)
    }
}

/// The data key sealed under a key derived from a secret. Serializes as
/// `{"kdf":"argon2id","m_kib":65536,"t":3,"p":1,"salt":b64,"nonce":b64,
/// "ciphertext":b64,"version":1}`; deserializing validates every field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WrappedKeyJson", into = "WrappedKeyJson")]
pub struct WrappedKey {
    params: KdfParams,
    salt: Vec<u8>,
    nonce: [u8; NONCE_LEN],
    ciphertext: [u8; CIPHERTEXT_LEN],
}

/// The stored form, field for field.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WrappedKeyJson {
    kdf: String,
    m_kib: u32,
    t: u32,
    p: u32,
    salt: String,
    nonce: String,
    ciphertext: String,
    version: u32,
}

impl From<WrappedKey> for WrappedKeyJson {
    fn from(w: WrappedKey) -> WrappedKeyJson {
        WrappedKeyJson {
            kdf: KDF_NAME.into(),
            m_kib: w.params.m_kib,
            t: w.params.t,
            p: w.params.p,
            salt: B64.encode(&w.salt),
            nonce: B64.encode(w.nonce),
            ciphertext: B64.encode(w.ciphertext),
            version: WRAP_VERSION,
        }
    }
}

impl TryFrom<WrappedKeyJson> for WrappedKey {
    type Error = Error;

    fn try_from(j: WrappedKeyJson) -> Result<WrappedKey> {
        let bad = |what: String| Error::integrity(format!("wrapped key: {what}"));
        if j.version != WRAP_VERSION {
            return Err(bad(format!("unsupported version {}", j.version)));
        }
        if j.kdf != KDF_NAME {
            return Err(bad(format!("unsupported key derivation {:?}", j.kdf)));
        }
        let params = KdfParams {
            m_kib: j.m_kib,
            t: j.t,
            p: j.p,
        };
        params.validate().map_err(|e| bad(e.message().to_owned()))?;
        let decode = |name: &str, text: &str| {
            B64.decode(text)
                .map_err(|e| bad(format!("{name} is not base64: {e}")))
        };
        let salt = decode("salt", &j.salt)?;
        if !(8..=MAX_SALT_LEN).contains(&salt.len()) {
            return Err(bad(format!("salt of {} bytes", salt.len())));
        }
        let nonce = decode("nonce", &j.nonce)?
            .try_into()
            .map_err(|v: Vec<u8>| bad(format!("nonce of {} bytes", v.len())))?;
        let ciphertext = decode("ciphertext", &j.ciphertext)?
            .try_into()
            .map_err(|v: Vec<u8>| bad(format!("ciphertext of {} bytes", v.len())))?;
        Ok(WrappedKey {
            params,
            salt,
            nonce,
            ciphertext,
        })
    }
}

/// Associated data: binds the version and every KDF input, so a changed
/// parameter fails authentication instead of silently deriving another key.
fn aad(params: &KdfParams, salt: &[u8]) -> Vec<u8> {
    let mut aad = format!(
        "coffer wrapped key v{WRAP_VERSION} {KDF_NAME} m={} t={} p={} salt=",
        params.m_kib, params.t, params.p
    )
    .into_bytes();
    aad.extend_from_slice(salt);
    aad
}

fn derive_kek(secret: &str, salt: &[u8], params: &KdfParams) -> Result<Zeroizing<[u8; 32]>> {
    let argon = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params.validate()?,
    );
    let mut kek = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(secret.as_bytes(), salt, &mut kek[..])
        .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("key derivation: {e}")))?;
    Ok(kek)
}

impl WrappedKey {
    /// Seals `data_key` under `Argon2id(secret)` with a fresh random salt.
    /// The secret's UTF-8 bytes are used as typed (no normalization).
    ///
    /// # Errors
    /// `InvalidInput` when Argon2 refuses `params` (e.g. memory below 8 KiB
    /// per lane) or they exceed the limits `unwrap` accepts.
    pub fn wrap(data_key: &DataKey, secret: &str, params: KdfParams) -> Result<WrappedKey> {
        let mut salt = vec![0u8; WRAP_SALT_LEN];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        let kek = derive_kek(secret, &salt, &params)?;
        let sealed = crypto::seal(&kek, &aad(&params, &salt), data_key.as_bytes());
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        Ok(WrappedKey {
            params,
            nonce: nonce.try_into().expect("nonce length"),
            ciphertext: ciphertext.try_into().expect("32-byte key plus tag"),
            salt,
        })
    }

    /// Opens the data key with `secret`.
    ///
    /// # Errors
    /// `Integrity` with the message "wrong key" when the secret is wrong (or
    /// the stored record was altered — the two cannot be told apart);
    /// `InvalidInput` when the stored parameters are unusable.
    pub fn unwrap(&self, secret: &str) -> Result<DataKey> {
        let kek = derive_kek(secret, &self.salt, &self.params)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + CIPHERTEXT_LEN);
        sealed.extend_from_slice(&self.nonce);
        sealed.extend_from_slice(&self.ciphertext);
        let plain = Zeroizing::new(
            crypto::open(&kek, &aad(&self.params, &self.salt), &sealed)
                .map_err(|_| Error::integrity("wrong key"))?,
        );
        let bytes: [u8; 32] = plain[..]
            .try_into()
            .map_err(|_| Error::integrity("wrapped key does not hold 32 bytes"))?;
        Ok(DataKey::from_bytes(bytes))
    }

    /// The Argon2id parameters this key was wrapped with.
    pub fn params(&self) -> KdfParams {
        self.params
    }

    /// The stored JSON form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("wrapped key serializes")
    }

    /// Parses and validates the stored JSON form (bytes from the service).
    ///
    /// # Errors
    /// `Integrity` when the bytes are not a well-formed wrapped key.
    pub fn from_json(bytes: &[u8]) -> Result<WrappedKey> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::integrity(format!("wrapped key does not parse: {e}")))
    }
}

/// Crockford's base32: no I, L, O or U, so nothing is misread when typed.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in a recovery code: 24 × 5 = 120 random bits.
const CODE_LEN: usize = 24;
const GROUP: usize = 4;

/// A random code that also unlocks the data key, shown once to print or
/// save. Displays as six dash-separated groups of four, e.g.
/// `7KQ2-M9XD-…`; parsing ignores case, spaces and dashes and reads
/// `O` as `0` and `I`/`L` as `1`. Use [`RecoveryCode::secret`] (the
/// displayed form) as the secret for [`WrappedKey::wrap`].
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct RecoveryCode(String);

impl RecoveryCode {
    /// A fresh code from the operating system's random source.
    pub fn generate() -> RecoveryCode {
        let mut raw = Zeroizing::new([0u8; CODE_LEN]);
        rand::rngs::OsRng.fill_bytes(&mut raw[..]);
        RecoveryCode::from_symbols(raw.iter().map(|b| ALPHABET[(b & 31) as usize]))
    }

    fn from_symbols(symbols: impl Iterator<Item = u8>) -> RecoveryCode {
        let mut text = String::with_capacity(CODE_LEN + CODE_LEN / GROUP);
        for (i, c) in symbols.enumerate() {
            if i > 0 && i % GROUP == 0 {
                text.push('-');
            }
            text.push(c as char);
        }
        RecoveryCode(text)
    }

    /// The canonical text (the displayed form), to pass as a secret.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(..)")
    }
}

impl FromStr for RecoveryCode {
    type Err = Error;

    /// # Errors
    /// `InvalidInput` when the text is not 24 code characters.
    fn from_str(s: &str) -> Result<RecoveryCode> {
        let mut symbols = Zeroizing::new(Vec::with_capacity(CODE_LEN));
        for c in s.chars() {
            let c = match c.to_ascii_uppercase() {
                ' ' | '-' | '\t' | '\n' | '\r' => continue,
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "a recovery code has only digits and letters (no U)",
                ));
            }
            symbols.push(c as u8);
        }
        if symbols.len() != CODE_LEN {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "a recovery code has {CODE_LEN} characters, this has {}",
                    symbols.len()
                ),
            ));
        }
        Ok(RecoveryCode::from_symbols(symbols.iter().copied()))
    }
}

/// How hard a private key is to guess (zxcvbn's estimate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyStrength {
    /// 0 (guessed in under 10³ tries) to 4 (more than 10¹⁰ tries).
    pub score: u8,
    /// What is wrong and how to improve, or that the key is strong.
    pub message: String,
}

/// Lowest score accepted as a private key.
pub const MIN_KEY_SCORE: u8 = 3;

impl KeyStrength {
    /// Whether the key may be used (score ≥ [`MIN_KEY_SCORE`]).
    pub fn is_acceptable(&self) -> bool {
        self.score >= MIN_KEY_SCORE
    }

    /// `Ok(self)` when acceptable.
    ///
    /// # Errors
    /// `InvalidInput` carrying the reason when the key is too weak.
    pub fn require_acceptable(self) -> Result<KeyStrength> {
        if self.is_acceptable() {
            Ok(self)
        } else {
            Err(Error::new(
                ErrorKind::InvalidInput,
                format!("this key is too easy to guess: {}", self.message),
            ))
        }
    }
}

/// Rates a proposed private key. `context` holds words the person's key
/// should not lean on (their email, name, "coffer").
pub fn key_strength(secret: &str, context: &[&str]) -> KeyStrength {
    let mut words = vec!["coffer"];
    words.extend_from_slice(context);
    let entropy = zxcvbn::zxcvbn(secret, &words);
    let score = u8::from(entropy.score());
    let feedback = entropy
        .feedback()
        .map(|f| f.to_string().trim().to_owned())
        .filter(|f| !f.is_empty());
    let message = match (score >= MIN_KEY_SCORE, feedback) {
        (true, _) => "strong enough".to_owned(),
        (false, Some(feedback)) => feedback,
        (false, None) => "add more words or characters".to_owned(),
    };
    KeyStrength { score, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wrap_unwrap_round_trip_and_wrong_key() {
        let key = DataKey::generate();
        let wrapped =
            WrappedKey::wrap(&key, "correct horse battery", KdfParams::insecure_for_tests())
                .unwrap();
        assert_eq!(
            wrapped.unwrap("correct horse battery").unwrap().as_bytes(),
            key.as_bytes()
        );
        let err = wrapped.unwrap("correct horse batterY").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Integrity);
        assert_eq!(err.message(), "wrong key");

        // Fresh salt and nonce each time.
        let again =
            WrappedKey::wrap(&key, "correct horse battery", KdfParams::insecure_for_tests())
                .unwrap();
        assert_ne!(again, wrapped);
    }

    #[test]
    fn real_default_parameters() {
        let params = KdfParams::default();
        assert!(params.m_kib >= 64 * 1024 && params.t >= 3);
        let key = DataKey::generate();
        let wrapped = WrappedKey::wrap(&key, "a long private key", params).unwrap();
        let json: serde_json::Value = serde_json::from_str(&wrapped.to_json()).unwrap();
        assert_eq!(json["kdf"], "argon2id");
        assert_eq!(json["m_kib"], 65536);
        assert_eq!(json["t"], 3);
        assert_eq!(json["p"], 1);
        assert_eq!(json["version"], 1);
        let back = WrappedKey::from_json(wrapped.to_json().as_bytes()).unwrap();
        assert_eq!(
            back.unwrap("a long private key").unwrap().as_bytes(),
            key.as_bytes()
        );
    }

    #[test]
    fn json_shape_and_tampering() {
        let key = DataKey::generate();
        let wrapped = WrappedKey::wrap(&key, "secret", KdfParams::insecure_for_tests()).unwrap();
        let json = wrapped.to_json();
        assert!(json.starts_with(r#"{"kdf":"argon2id","m_kib":64,"t":1,"p":1,"salt":""#));
        assert!(json.ends_with(r#","version":1}"#));
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(B64.decode(value["salt"].as_str().unwrap()).unwrap().len(), 16);
        assert_eq!(B64.decode(value["nonce"].as_str().unwrap()).unwrap().len(), 12);
        assert_eq!(
            B64.decode(value["ciphertext"].as_str().unwrap())
                .unwrap()
                .len(),
            48
        );

        // Raising t (still valid) changes the derivation and the aad.
        let mut changed = value.clone();
        changed["t"] = 2.into();
        let tampered = WrappedKey::from_json(changed.to_string().as_bytes()).unwrap();
        assert_eq!(
            tampered.unwrap("secret").unwrap_err().kind(),
            ErrorKind::Integrity
        );

        let refuse = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut v = value.clone();
            edit(&mut v);
            let err = WrappedKey::from_json(v.to_string().as_bytes()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Integrity, "{v}");
        };
        refuse(&|v| v["kdf"] = "scrypt".into());
        refuse(&|v| v["version"] = 2.into());
        refuse(&|v| v["m_kib"] = (u32::MAX).into());
        refuse(&|v| v["m_kib"] = 1.into());
        refuse(&|v| v["t"] = 0.into());
        refuse(&|v| v["p"] = 0.into());
        refuse(&|v| v["nonce"] = B64.encode([0u8; 11]).into());
        refuse(&|v| v["ciphertext"] = B64.encode([0u8; 47]).into());
        refuse(&|v| v["salt"] = B64.encode([0u8; 4]).into());
        refuse(&|v| v["salt"] = "***".into());
        refuse(&|v| v["extra"] = 1.into());
        refuse(&|v| {
            v.as_object_mut().unwrap().remove("salt");
        });
    }

    #[test]
    fn wrap_refuses_unusable_params() {
        let key = DataKey::generate();
        for params in [
            KdfParams { m_kib: 1, t: 1, p: 1 },
            KdfParams { m_kib: 64, t: 0, p: 1 },
            KdfParams { m_kib: 64, t: 1, p: 0 },
            KdfParams { m_kib: MAX_M_KIB + 1, t: 1, p: 1 },
        ] {
            assert_eq!(
                WrappedKey::wrap(&key, "x", params).unwrap_err().kind(),
                ErrorKind::InvalidInput
            );
        }
    }

    #[test]
    fn recovery_code_format_and_parsing() {
        let code = RecoveryCode::generate();
        let text = code.to_string();
        assert_eq!(text.len(), 24 + 5);
        let groups: Vec<&str> = text.split('-').collect();
        assert_eq!(groups.len(), 6);
        assert!(groups.iter().all(|g| g.len() == 4));
        assert!(text
            .bytes()
            .all(|b| b == b'-' || ALPHABET.contains(&b)));
        assert_eq!(format!("{code:?}"), "RecoveryCode(..)");
        assert_ne!(RecoveryCode::generate(), code);

        // Tolerant parsing.
        let sloppy = format!(" {} ", text.to_lowercase().replace('-', " "));
        assert_eq!(sloppy.parse::<RecoveryCode>().unwrap(), code);
        assert_eq!(text.replace('-', "").parse::<RecoveryCode>().unwrap(), code);
        let c: RecoveryCode = "oooo-iiii-llll-0000-1111-2222".parse().unwrap();
        assert_eq!(c.to_string(), "0000-1111-1111-0000-1111-2222");
        for bad in ["", "ABCD", "UUUU-UUUU-UUUU-UUUU-UUUU-UUUU", &format!("{text}0"), "é"] {
            assert_eq!(
                bad.parse::<RecoveryCode>().unwrap_err().kind(),
                ErrorKind::InvalidInput,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn recovery_code_unwraps_the_same_key() {
        let key = DataKey::generate();
        let code = RecoveryCode::generate();
        let by_code =
            WrappedKey::wrap(&key, code.secret(), KdfParams::insecure_for_tests()).unwrap();
        let typed: RecoveryCode = code.to_string().to_lowercase().parse().unwrap();
        assert_eq!(
            by_code.unwrap(typed.secret()).unwrap().as_bytes(),
            key.as_bytes()
        );
        let other = RecoveryCode::generate();
        assert_eq!(
            by_code.unwrap(other.secret()).unwrap_err().message(),
            "wrong key"
        );
    }

    #[test]
    fn weak_keys_are_refused_with_a_reason() {
        for weak in ["", "password", "123456", "coffer2024", "qwertyuiop"] {
            let s = key_strength(weak, &["ann@example.com"]);
            assert!(s.score < 3, "{weak:?} scored {}", s.score);
            assert!(!s.is_acceptable());
            assert!(!s.message.is_empty());
            let err = s.require_acceptable().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert!(err.message().contains("too easy to guess"));
        }
        let strong = key_strength("violet tractor sings under 4 moons", &[]);
        assert!(strong.score >= 3, "{strong:?}");
        assert!(strong.clone().require_acceptable().is_ok());
        // The person's own email is not a secret.
        let own = key_strength("ann.smith@example.com", &["ann.smith@example.com"]);
        assert!(own.score < 3, "{own:?}");
        // A generated recovery code is strong.
        assert!(key_strength(RecoveryCode::generate().secret(), &[]).is_acceptable());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn parser_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = WrappedKey::from_json(&bytes);
        }

        #[test]
        fn parser_never_panics_on_json_like_input(
            kdf in "argon2id|[a-z0-9]{0,8}",
            m in any::<u32>(), t in any::<u32>(), p in any::<u32>(),
            salt in "[A-Za-z0-9+/=]{0,40}",
            nonce in "[A-Za-z0-9+/=]{0,20}",
            ct in "[A-Za-z0-9+/=]{0,80}",
            version in 0u32..3,
        ) {
            let json = serde_json::json!({
                "kdf": kdf, "m_kib": m, "t": t, "p": p, "salt": salt,
                "nonce": nonce, "ciphertext": ct, "version": version,
            });
            if let Ok(w) = WrappedKey::from_json(json.to_string().as_bytes()) {
                // Whatever parses is within the bounds unwrap will run.
                prop_assert!(w.params().m_kib <= MAX_M_KIB && w.params().t <= MAX_T);
                // And serializes back to an equivalent record.
                prop_assert_eq!(WrappedKey::from_json(w.to_json().as_bytes()).unwrap(), w);
            }
        }
    }
}
