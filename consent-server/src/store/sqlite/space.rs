//! Free space on the database's file system, measured at most once per [`EVERY`] (a `statvfs`, not a
//! system call per request) by the writer thread, which applies the floor.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::store::StorageHealth;
use crate::store::health::Throttle;

/// How often free space is measured.
pub(super) const EVERY: Duration = Duration::from_secs(1);

/// The directory holding the database (and its `-wal` and `-shm` files), and when it was last measured.
#[derive(Debug)]
pub(super) struct DiskSpace {
    dir: PathBuf,
    last: Option<Instant>,
    errors: Throttle,
}

impl DiskSpace {
    /// Free space of the file system holding `database`.
    pub(super) fn new(database: &Path) -> DiskSpace {
        let dir = match database.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        DiskSpace {
            dir,
            last: None,
            errors: Throttle::default(),
        }
    }

    /// Measures now and tells `health`.
    pub(super) fn refresh(&mut self, health: &StorageHealth) {
        let now = Instant::now();
        self.last = Some(now);
        // Space available to the server's user (`f_bavail`), not counting blocks reserved for root.
        let free = match fs4::available_space(&self.dir) {
            Ok(free) => Some(free),
            Err(e) => {
                if let Some(more) = self.errors.hit(now, Duration::from_secs(60)) {
                    tracing::warn!(
                        dir = %self.dir.display(),
                        error = %e,
                        not_logged = more,
                        "cannot measure free space; the floor is not applied until it can be"
                    );
                }
                None
            }
        };
        health.set_free_space(free);
    }

    /// Measures if the last measure is older than [`EVERY`].
    pub(super) fn refresh_if_due(&mut self, health: &StorageHealth) {
        if self.last.is_none_or(|t| t.elapsed() >= EVERY) {
            self.refresh(health);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_the_database_directory() {
        let health = StorageHealth::new(1, Duration::from_secs(60));
        let mut space = DiskSpace::new(Path::new("consent.db"));
        assert_eq!(space.dir, PathBuf::from("."));
        space.refresh(&health);
        let free = health
            .free_bytes()
            .expect("the working directory's free space");
        assert!(free > 0);
        // Above a floor of one byte; and a floor above the disk's size is always low.
        assert!(!health.low_on_space());
        let huge = StorageHealth::new(u64::MAX - 1, Duration::from_secs(60));
        let mut space = DiskSpace::new(&std::env::temp_dir().join("consent.db"));
        space.refresh_if_due(&huge);
        assert!(huge.low_on_space());
        // A directory that does not exist: unknown, and the floor is not applied.
        let mut gone = DiskSpace::new(Path::new("/nonexistent-consent-dir/consent.db"));
        gone.refresh(&huge);
        assert_eq!((huge.free_bytes(), huge.low_on_space()), (None, false));
    }
}
