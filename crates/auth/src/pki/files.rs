//! Crash-safe PEM file handling for the PKI directory.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::AuthError;

/// Private keys are readable by the owner only.
pub const KEY_MODE: u32 = 0o600;
/// Certificates are public.
pub const CERT_MODE: u32 = 0o644;

fn io_error(context: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> AuthError {
    let path = path.to_path_buf();
    move |source| AuthError::Io {
        context,
        path,
        source,
    }
}

/// Write `contents` to `dir/name` via a temp file and rename, so that a crash leaves either the
/// old file or the new one, never half of one. The temp file is created with `mode` so a key is
/// never briefly world-readable.
pub fn write_atomic(dir: &Path, name: &str, contents: &str, mode: u32) -> Result<(), AuthError> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io_error("creating", &tmp))?;
    // The mode passed to open is masked by the umask and ignored for an existing file.
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(io_error("chmod", &tmp))?;
    file.write_all(contents.as_bytes())
        .map_err(io_error("writing", &tmp))?;
    file.sync_all().map_err(io_error("syncing", &tmp))?;
    drop(file);
    fs::rename(&tmp, &path).map_err(io_error("renaming to", &path))?;
    // Persist the rename itself; failure here only weakens durability, not correctness.
    if let Ok(dir) = fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Read `dir/name`, or `None` if it does not exist.
pub fn read_optional(dir: &Path, name: &str) -> Result<Option<String>, AuthError> {
    let path = dir.join(name);
    match fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(AuthError::Io {
            context: "reading",
            path,
            source,
        }),
    }
}

/// Create the PKI directory, private to the owner.
pub fn ensure_private_dir(dir: &Path) -> Result<(), AuthError> {
    fs::create_dir_all(dir).map_err(io_error("creating", dir))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_error("chmod", dir))
}
