//! The rater's minisign (Ed25519) key pair in the config directory.

use minisign::{KeyPair, PublicKey, PublicKeyBox, SecretKey, SecretKeyBox};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Secret key file name (minisign format, mode 0600).
pub const SECRET_FILE: &str = "verdict.key";
/// Public key file name (minisign format).
pub const PUBLIC_FILE: &str = "verdict.pub";
/// Environment variable holding the passphrase of an encrypted key (for scripts).
pub const PASSPHRASE_ENV: &str = "VERDICT_PASSPHRASE";

/// Key problems, each with what to do.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// File system trouble.
    #[error("{path}: {message}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What happened and what to do.
        message: String,
    },
    /// A key that cannot be read.
    #[error("{0}")]
    Bad(String),
}

fn io(path: &Path, e: impl std::fmt::Display) -> KeyError {
    KeyError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The minisign key id as minisign prints it: 16 upper-case hex digits.
pub fn key_id(keynum: &[u8]) -> String {
    keynum.iter().rev().map(|b| format!("{b:02X}")).collect()
}

/// Where the key pair lives.
pub fn paths(config_dir: &Path) -> (PathBuf, PathBuf) {
    (config_dir.join(SECRET_FILE), config_dir.join(PUBLIC_FILE))
}

/// True when a key pair exists.
pub fn exists(config_dir: &Path) -> bool {
    paths(config_dir).0.exists()
}

/// Creates a key pair (encrypted with `passphrase` when given). Refuses to replace an
/// existing key unless `force`.
pub fn create(
    config_dir: &Path,
    passphrase: Option<String>,
    force: bool,
) -> Result<PublicKey, KeyError> {
    let (sk_path, pk_path) = paths(config_dir);
    if sk_path.exists() && !force {
        return Err(KeyError::Bad(format!(
            "a key already exists at {}; pass --force to replace it (bundles signed with the old key will no longer verify against the new one)",
            sk_path.display()
        )));
    }
    create_private_dir(config_dir)?;
    let kp = match passphrase {
        Some(p) => KeyPair::generate_encrypted_keypair(Some(p)),
        None => KeyPair::generate_unencrypted_keypair(),
    }
    .map_err(|e| KeyError::Bad(format!("cannot generate a key pair: {e}")))?;
    let sk_box = kp
        .sk
        .to_box(Some("verdict rater secret key"))
        .map_err(|e| KeyError::Bad(e.to_string()))?;
    let pk_box = kp.pk.to_box().map_err(|e| KeyError::Bad(e.to_string()))?;
    write_secret(&sk_path, sk_box.to_string().as_bytes())?;
    let tmp = pk_path.with_extension("pub.tmp");
    std::fs::write(&tmp, pk_box.to_string()).map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, &pk_path).map_err(|e| io(&pk_path, e))?;
    Ok(kp.pk)
}

fn create_private_dir(dir: &Path) -> Result<(), KeyError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| io(dir, e))
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))
    }
}

fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    let tmp = path.with_extension("key.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(|e| io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| io(&tmp, e))?;
    f.sync_all().map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))
}

/// The public key, creating the key pair on first use.
pub fn public(config_dir: &Path) -> Result<PublicKey, KeyError> {
    let (_, pk_path) = paths(config_dir);
    if !exists(config_dir) {
        return create(config_dir, None, false);
    }
    read_public(&pk_path)
}

/// Reads a public key from a minisign `.pub` file.
pub fn read_public(path: &Path) -> Result<PublicKey, KeyError> {
    let s = std::fs::read_to_string(path).map_err(|e| io(path, e))?;
    parse_public_text(&s).map_err(|e| KeyError::Bad(format!("{}: {e}", path.display())))
}

fn parse_public_text(s: &str) -> Result<PublicKey, String> {
    let s = s.trim();
    let result = if s.lines().count() >= 2 {
        PublicKeyBox::from_string(s).and_then(PublicKeyBox::into_public_key)
    } else {
        PublicKey::from_base64(s)
    };
    result.map_err(|e| format!("not a minisign public key ({e})"))
}

/// A public key given on the command line: a `.pub` file, or the base64 key itself (as
/// `minisign -P` takes it).
pub fn parse_public_arg(arg: &str) -> Result<PublicKey, KeyError> {
    let p = Path::new(arg);
    if p.exists() {
        return read_public(p);
    }
    parse_public_text(arg).map_err(|e| {
        KeyError::Bad(format!(
            "--pubkey '{arg}': no such file, and {e}; give a minisign .pub file or the key's base64 line"
        ))
    })
}

/// The public key in minisign's two-line text form.
pub fn public_text(pk: &PublicKey) -> String {
    pk.to_box().map(|b| b.to_string()).unwrap_or_default()
}

/// The secret key, decrypted with the passphrase from the environment or the terminal when
/// it is encrypted. Creates the key pair on first use.
pub fn secret(config_dir: &Path) -> Result<SecretKey, KeyError> {
    if !exists(config_dir) {
        create(config_dir, None, false)?;
    }
    let (sk_path, _) = paths(config_dir);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&sk_path)
            .map_err(|e| io(&sk_path, e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(KeyError::Bad(format!(
                "the secret key {} can be read by others (mode {:o}); run: chmod 600 {}",
                sk_path.display(),
                mode & 0o777,
                sk_path.display()
            )));
        }
    }
    let text = std::fs::read_to_string(&sk_path).map_err(|e| io(&sk_path, e))?;
    let sk_box = SecretKeyBox::from_string(&text)
        .map_err(|e| KeyError::Bad(format!("{}: {e}", sk_path.display())))?;
    match SecretKey::from_unencrypted_box(sk_box.clone()) {
        Ok(sk) => Ok(sk),
        Err(_) => {
            let pass = match std::env::var(PASSPHRASE_ENV) {
                Ok(p) => p,
                Err(_) => {
                    use std::io::IsTerminal;
                    if !std::io::stdin().is_terminal() {
                        return Err(KeyError::Bad(format!(
                            "the secret key {} is passphrase-protected: set {PASSPHRASE_ENV} or run from a terminal",
                            sk_path.display()
                        )));
                    }
                    rpassword::prompt_password("Passphrase for the verdict signing key: ")
                        .map_err(|e| io(&sk_path, e))?
                }
            };
            SecretKey::from_box(sk_box, Some(pass)).map_err(|e| {
                KeyError::Bad(format!(
                    "cannot unlock {}: {e} (wrong passphrase?)",
                    sk_path.display()
                ))
            })
        }
    }
}
