//! Small files kept in memory while they are asked for, so a hot asset costs a `stat` and a
//! copy rather than an open, a read and a close. An entry is only served while the file's
//! identity on disk (device, inode, size, mtime, ctime) is what it was when read: any write,
//! replace or rename is seen by the next request, with no timer and no stale bytes. The entry
//! was read through the same safe open as any other answer, and a matching inode is the same
//! file, so the cache never widens what can be served.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;

use bytes::Bytes;

use super::conditional::Validators;
use crate::compress::Coding;

/// Files up to this size are kept (the `fileCache.maxFileSize` option's default): it covers
/// most HTML, CSS, icons and small scripts, and a copy of that much is cheaper than a read.
pub const DEFAULT_MAX_FILE: usize = 256 * 1024;
/// All entries together hold at most this much (`fileCache.maxBytes`'s default).
pub const DEFAULT_MAX_BYTES: usize = 32 * 1024 * 1024;

/// Where a file was found: a mount's index and path under it, or (`res.sendFile`) `u32::MAX`
/// and the absolute path.
pub type Key = (u32, String);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Identity {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Identity {
    pub fn of(meta: &std::fs::Metadata) -> Identity {
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

pub struct Entry {
    pub identity: Identity,
    pub validators: Validators,
    pub body: Bytes,
    /// The body compressed in each coding asked for so far (by `Coding::index`), made once.
    variants: [Option<Bytes>; 4],
}

impl Entry {
    pub fn new(identity: Identity, validators: Validators, body: Bytes) -> Entry {
        Entry {
            identity,
            validators,
            body,
            variants: Default::default(),
        }
    }

    fn size(&self, key: &Key) -> usize {
        key.1.len()
            + self.body.len()
            + self
                .variants
                .iter()
                .flatten()
                .map(Bytes::len)
                .sum::<usize>()
    }
}

pub struct Hot {
    map: HashMap<Key, Entry>,
    bytes: usize,
    pub max_file: usize,
    max_bytes: usize,
}

impl Hot {
    pub fn new(max_file: usize, max_bytes: usize) -> Hot {
        Hot {
            map: HashMap::new(),
            bytes: 0,
            max_file: max_file.min(max_bytes),
            max_bytes,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The entry for `key` when the file on disk is still the one it was read from (`stat`
    /// only runs for a key that has an entry). A stale entry is dropped.
    pub fn get(
        &mut self,
        key: &Key,
        stat: impl FnOnce() -> Option<std::fs::Metadata>,
    ) -> Option<&Entry> {
        let entry = self.map.get(key)?;
        let fresh = stat().is_some_and(|meta| Identity::of(&meta) == entry.identity);
        if !fresh {
            let gone = self.map.remove(key)?;
            self.bytes -= gone.size(key);
            return None;
        }
        self.map.get(key)
    }

    /// The entry for `key`, unchecked (the caller just checked or made it).
    pub fn peek(&self, key: &Key) -> Option<&Entry> {
        self.map.get(key)
    }

    /// Whether a file of `len` bytes found at `key` can be kept (then `insert` keeps it).
    pub fn fits(&self, len: u64, key: &Key) -> bool {
        len <= self.max_file as u64 && len as usize + key.1.len() <= self.max_bytes
    }

    /// Keeps `entry` for `key`, making room by dropping other entries when the bound is
    /// reached; an entry that does not `fit` is not kept.
    pub fn insert(&mut self, key: Key, entry: Entry) {
        let size = entry.size(&key);
        if !self.fits(entry.body.len() as u64, &key) {
            return;
        }
        if let Some(old) = self.map.remove(&key) {
            self.bytes -= old.size(&key);
        }
        while self.bytes + size > self.max_bytes {
            // Any entry: a hot one comes back on its next request.
            let Some(victim) = self.map.keys().next().cloned() else {
                break;
            };
            let gone = self.map.remove(&victim).expect("key just listed");
            self.bytes -= gone.size(&victim);
        }
        self.bytes += size;
        self.map.insert(key, entry);
    }

    /// The body of `key`'s entry in `coding`, made by `make` the first time and kept while the
    /// bound allows (else made for this answer only).
    pub fn variant(
        &mut self,
        key: &Key,
        coding: Coding,
        make: impl FnOnce(&[u8]) -> Vec<u8>,
    ) -> Option<Bytes> {
        let entry = self.map.get(key)?;
        if let Some(v) = &entry.variants[coding.index()] {
            return Some(v.clone());
        }
        let made = Bytes::from(make(&entry.body));
        if made.len() + self.bytes <= self.max_bytes {
            self.bytes += made.len();
            self.map.get_mut(key)?.variants[coding.index()] = Some(made.clone());
        }
        Some(made)
    }

    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_only_the_same_file_and_stays_bounded() {
        let dir = std::env::temp_dir().join(format!("hn-hot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.txt");
        std::fs::write(&path, "one").unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        let mut hot = Hot::new(16, 40);
        let key: Key = (0, "a.txt".into());
        let entry = |body: &'static str, meta: &std::fs::Metadata| {
            Entry::new(
                Identity::of(meta),
                Validators::of(meta),
                Bytes::from_static(body.as_bytes()),
            )
        };
        hot.insert(key.clone(), entry("one", &meta));
        let stat = || std::fs::metadata(&path).ok();
        assert_eq!(&hot.get(&key, stat).unwrap().body[..], b"one");
        // Rewritten (a new size, and a new ctime): stale, dropped.
        std::fs::write(&path, "three").unwrap();
        assert!(hot.get(&key, stat).is_none());
        assert_eq!(hot.bytes(), 0);
        // Bounds: too large a file is not kept; the total stays under max_bytes.
        hot.insert((0, "big".into()), entry("0123456789abcdefX", &meta));
        assert!(hot.is_empty());
        for i in 0..10 {
            hot.insert((0, format!("f{i}")), entry("0123456789", &meta));
            assert!(hot.bytes() <= 40);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
