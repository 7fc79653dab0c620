//! Private by default: a rater's labels and justifications are their employer's
//! confidential data, so every folder verdict creates is 0700 and every file 0600,
//! whatever the umask. (`main` also sets the umask to 077, for files that libraries
//! create on their own, such as SQLite's `-wal` and `-shm`.)

use std::io::Write;
use std::path::{Path, PathBuf};

/// Mode of the folders verdict creates.
pub const DIR_MODE: u32 = 0o700;
/// Mode of the files verdict creates.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) as 0700; a folder that exists is left as it is.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, DIR_MODE);
    b.create(dir)
}

/// Creates `dir` as 0700; fails if anything (a folder, a file, a link) is already there.
pub fn create_dir_new(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, DIR_MODE);
    b.create(dir)
}

/// Takes group and other permissions away from a file or folder verdict owns (a cache
/// made by an older verdict, say). Failures are ignored: this only ever narrows access.
pub fn tighten(path: &Path, dir: bool) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        // SAFETY: getuid has no preconditions and cannot fail.
        let me = unsafe { libc::getuid() };
        if meta.uid() != me || meta.mode() & 0o077 == 0 {
            return;
        }
        let mode = if dir { DIR_MODE } else { FILE_MODE };
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = (path, dir);
}

/// Opens a new file for writing, 0600; fails if it exists.
pub fn create_new(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, FILE_MODE);
    o.open(path)
}

/// Creates an empty 0600 file unless one exists (so that SQLite, which gives its `-wal`
/// and `-shm` files the database file's permissions, starts from a private file).
pub fn touch(path: &Path) -> std::io::Result<()> {
    match create_new(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            tighten(path, false);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Writes `bytes` to `path` atomically (a 0600 temporary file beside it, synced, then
/// renamed over it) and syncs the folder, so that after a crash the file is either the
/// old one or the whole new one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = tmp_path(path);
    let _ = std::fs::remove_file(&tmp);
    let result = (|| {
        let mut f = create_new(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        sync_dir(path);
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The temporary file [`write_atomically`] writes first.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(".tmp");
    PathBuf::from(s)
}

/// Makes a rename in the folder of `path` durable (best effort).
pub fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })
    {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn folders_and_files_are_private_and_old_ones_are_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("a/b");
        create_dir(&d).unwrap();
        assert_eq!(mode(&d), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        let f = d.join("x");
        write_atomically(&f, b"hello").unwrap();
        assert_eq!(mode(&f), 0o600);
        assert_eq!(std::fs::read(&f).unwrap(), b"hello");
        write_atomically(&f, b"again").unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"again");
        assert!(!tmp_path(&f).exists());
        let old = d.join("old");
        std::fs::write(&old, b"").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        touch(&old).unwrap();
        assert_eq!(mode(&old), 0o600);
    }
}
