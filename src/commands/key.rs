//! `verdict key show|init`.

use super::Env;
use crate::cli::KeyCommand;
use crate::keys;

/// Shows or creates the signing key.
pub fn run(env: &Env, cmd: &KeyCommand) -> anyhow::Result<()> {
    match cmd {
        KeyCommand::Show => {
            let pk = keys::public(&env.config_dir)?;
            crate::safe::out_text(&keys::public_text(&pk));
            crate::errln!(
                "key id {} ({}); secret key {}",
                keys::key_id(pk.keynum()),
                keys::paths(&env.config_dir).1.display(),
                keys::paths(&env.config_dir).0.display()
            );
        }
        KeyCommand::Init { passphrase, force } => {
            let pass = if *passphrase {
                Some(ask_passphrase()?)
            } else {
                None
            };
            let pk = keys::create(&env.config_dir, pass, *force)?;
            crate::outln!(
                "Created key {} in {}",
                keys::key_id(pk.keynum()),
                env.config_dir.display()
            );
            crate::safe::out_text(&keys::public_text(&pk));
        }
    }
    Ok(())
}

fn ask_passphrase() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var(keys::PASSPHRASE_ENV) {
        if p.is_empty() {
            anyhow::bail!("{} is empty", keys::PASSPHRASE_ENV);
        }
        return Ok(p);
    }
    let a = rpassword::prompt_password("New passphrase: ")?;
    let b = rpassword::prompt_password("Again: ")?;
    if a != b {
        anyhow::bail!("the passphrases differ; nothing was created");
    }
    if a.is_empty() {
        anyhow::bail!("an empty passphrase protects nothing; leave out --passphrase instead");
    }
    Ok(a)
}
