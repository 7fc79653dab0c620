//! Where things live (data and config directories) and who the rater is.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Environment variable naming the data directory.
pub const DATA_DIR_ENV: &str = "VERDICT_DATA_DIR";
/// Environment variable naming the config directory.
pub const CONFIG_DIR_ENV: &str = "VERDICT_CONFIG_DIR";

/// The user's config file (`config.toml` in the config directory). Every field optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The rater's name.
    pub rater: Option<String>,
    /// Submit as soon as an answer completes an item (default true).
    pub auto_advance: Option<bool>,
    /// Minutes of continuous labeling before a break reminder; 0 turns it off (default 50).
    pub break_minutes: Option<i64>,
}

/// Resolved locations and identity for one run.
#[derive(Debug, Clone)]
pub struct Env {
    /// The cache, outbox and other data.
    pub data_dir: PathBuf,
    /// Keys, config file, keymap.
    pub config_dir: PathBuf,
    /// The rater's name.
    pub rater: String,
    /// The config file as read.
    pub file: ConfigFile,
}

impl Env {
    /// Resolves: command-line option, else environment variable (clap fills both), else
    /// the XDG/platform default; the rater from the option, else the config file, else the
    /// system user.
    pub fn resolve(
        data_dir: Option<PathBuf>,
        config_dir: Option<PathBuf>,
        rater: Option<String>,
    ) -> anyhow::Result<Env> {
        let dirs = directories::ProjectDirs::from("", "", "verdict");
        let data_dir = match data_dir.or_else(|| dirs.as_ref().map(|d| d.data_dir().to_path_buf()))
        {
            Some(d) => d,
            None => anyhow::bail!(
                "no home directory to keep the cache in: give --data-dir or set {DATA_DIR_ENV}"
            ),
        };
        let config_dir = match config_dir
            .or_else(|| dirs.as_ref().map(|d| d.config_dir().to_path_buf()))
        {
            Some(d) => d,
            None => anyhow::bail!(
                "no home directory for the configuration: give --config-dir or set {CONFIG_DIR_ENV}"
            ),
        };
        let file = load_config(&config_dir)?;
        let rater = rater
            .or(file.rater.clone())
            .or_else(|| std::env::var("USER").ok())
            .or_else(|| std::env::var("LOGNAME").ok())
            .unwrap_or_else(|| "rater".to_string());
        check_rater(&rater)?;
        Ok(Env {
            data_dir,
            config_dir,
            rater,
            file,
        })
    }

    /// The folder bundles are written to by default.
    pub fn outbox(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }
}

fn load_config(dir: &Path) -> anyhow::Result<ConfigFile> {
    let path = dir.join("config.toml");
    match std::fs::read_to_string(&path) {
        Ok(s) => toml::from_str(&s).map_err(|e| anyhow::anyhow!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
        Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    }
}

/// A rater name is 1-64 characters with no control, invisible or direction-changing
/// characters (it is shown in reports and signed into every bundle).
pub fn check_rater(name: &str) -> anyhow::Result<()> {
    if name.trim().is_empty()
        || name.chars().count() > 64
        || name
            .chars()
            .any(|c| c.is_control() || crate::safe::invisible(c))
    {
        anyhow::bail!(
            "rater name '{}' is not usable: 1-64 characters, no control, invisible or direction-changing characters",
            name.escape_debug()
        );
    }
    Ok(())
}

impl Env {
    /// The workstation's settings: config file, then NO_COLOR from the environment.
    pub fn settings(&self) -> crate::tui::state::Settings {
        let d = crate::tui::state::Settings::default();
        crate::tui::state::Settings {
            auto_advance: self.file.auto_advance.unwrap_or(d.auto_advance),
            break_minutes: self.file.break_minutes.unwrap_or(d.break_minutes),
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        }
    }
}
