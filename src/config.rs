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
    /// How images are drawn (default `auto`: ask the terminal).
    pub images: Option<ImageProtocol>,
}

/// How the workstation draws images.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageProtocol {
    /// The graphics protocol the terminal's environment names (kitty, iTerm2, sixel);
    /// unicode half-blocks when it names none.
    #[default]
    Auto,
    /// Unicode half-blocks, in colour: every terminal, tmux and SSH included.
    Halfblocks,
    /// The kitty graphics protocol.
    Kitty,
    /// Sixel.
    Sixel,
    /// iTerm2's inline images.
    Iterm2,
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

/// A rater name as [`crate::model::check_rater`] allows, as an error for the command line.
pub fn check_rater(name: &str) -> anyhow::Result<()> {
    crate::model::check_rater(name).map_err(anyhow::Error::msg)
}

/// Settings the rater can change in config.toml (and NO_COLOR from the environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Submit as soon as an answer completes an item.
    pub auto_advance: bool,
    /// Minutes of continuous labeling before a break reminder (0: never).
    pub break_minutes: i64,
    /// No colours (NO_COLOR).
    pub no_color: bool,
    /// How images are drawn.
    pub images: ImageProtocol,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            auto_advance: true,
            break_minutes: 50,
            no_color: false,
            images: ImageProtocol::Auto,
        }
    }
}

impl Env {
    /// The workstation's settings: config file, then NO_COLOR from the environment.
    pub fn settings(&self) -> Settings {
        let d = Settings::default();
        Settings {
            auto_advance: self.file.auto_advance.unwrap_or(d.auto_advance),
            break_minutes: self.file.break_minutes.unwrap_or(d.break_minutes),
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
            images: self.file.images.unwrap_or_default(),
        }
    }
}
