//! Secrets of the embedded backends (signing keys), created on first start and
//! kept in `<data>/secrets/` readable by the owner only.

use std::io::Write;
use std::path::Path;

/// Reads the secret `name`, creating it with `generate` when absent.
/// The file is written whole and renamed into place, so a crash never leaves
/// half a key behind.
pub fn load_or_create(
    data_dir: &Path,
    name: &str,
    generate: impl FnOnce() -> std::io::Result<Vec<u8>>,
) -> std::io::Result<Vec<u8>> {
    let dir = data_dir.join("secrets");
    let path = dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => return Ok(bytes),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    std::fs::create_dir_all(&dir)?;
    let secret = generate()?;
    let tmp = dir.join(format!(".{name}.{}", ulid::Ulid::generate()));
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(&secret)?;
        file.sync_all()?;
    }
    // Another process may have raced us: the first key written wins.
    if path.exists() {
        std::fs::remove_file(&tmp)?;
        return std::fs::read(&path);
    }
    std::fs::rename(&tmp, &path)?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_created_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path(), "k", || Ok(vec![1, 2, 3])).unwrap();
        let again = load_or_create(dir.path(), "k", || Ok(vec![9])).unwrap();
        assert_eq!(first, vec![1, 2, 3]);
        assert_eq!(again, first);
    }
}
