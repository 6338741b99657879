//! From a request path to a file under a root, and nowhere else. The URL part after the mount
//! is percent-decoded once and checked lexically (no `..`, NUL, backslash or encoded slash, no
//! dotfile unless allowed); the kernel then opens it with `openat2(RESOLVE_BENEATH)` from the
//! root's descriptor, so no symlink or race can lead outside the root either. Where `openat2` is
//! missing (Linux < 5.6, or a sandbox that filters it) the same guarantee comes from resolving
//! the opened file's real path and checking it is under the root's.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Longest decoded path we look up: PATH_MAX is 4096 and longer names only cost syscalls that
/// fail with ENAMETOOLONG.
pub const MAX_PATH: usize = 4096;

/// What to do with a path that has a segment starting with a dot (`.env`, `.git/config`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Dotfiles {
    /// As if it did not exist: 404, or on to JS when the mount falls through (serve-static's default).
    Ignore,
    /// 403.
    Deny,
    Allow,
}

impl Dotfiles {
    pub fn parse(s: &str) -> Option<Dotfiles> {
        match s {
            "ignore" => Some(Dotfiles::Ignore),
            "deny" => Some(Dotfiles::Deny),
            "allow" => Some(Dotfiles::Allow),
            _ => None,
        }
    }
}

/// Why a path is not served.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Refused {
    /// Malformed: bad percent-encoding, NUL, `..`, not UTF-8. Always 400.
    Bad,
    /// A dotfile under `Dotfiles::Deny`: 403.
    Denied,
    /// Nothing to serve there (also: backslashes, encoded slashes, dotfiles ignored).
    Missing,
}

/// Decodes the part of a request path below a mount (`rest`, without a leading slash) into a
/// relative path, refusing anything that could name a file outside the root lexically.
/// `trailing_slash` is whether the request named a directory.
pub fn relative(rest: &str, dotfiles: Dotfiles) -> Result<(String, bool), Refused> {
    let decoded = percent_decode(rest.as_bytes()).ok_or(Refused::Bad)?;
    if decoded.len() > MAX_PATH {
        return Err(Refused::Missing);
    }
    let decoded = String::from_utf8(decoded).map_err(|_| Refused::Bad)?;
    if decoded.contains('\0') {
        return Err(Refused::Bad);
    }
    // A backslash is a separator on Windows, and `%2f` a slash the router did not see: neither
    // names a file here, whatever the platform.
    if decoded.contains('\\') || rest.contains("%2f") || rest.contains("%2F") {
        return Err(Refused::Missing);
    }
    let trailing_slash = decoded.is_empty() || decoded.ends_with('/');
    let mut out = String::with_capacity(decoded.len());
    let mut dot = false;
    for segment in decoded.split('/') {
        match segment {
            "" | "." => continue,
            ".." => return Err(Refused::Bad),
            s => {
                dot |= s.starts_with('.');
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(s);
            }
        }
    }
    if dot {
        match dotfiles {
            Dotfiles::Allow => {}
            Dotfiles::Deny => return Err(Refused::Denied),
            Dotfiles::Ignore => return Err(Refused::Missing),
        }
    }
    Ok((out, trailing_slash))
}

/// Whether any segment of an absolute path (`res.sendFile` without `root`) is a dotfile.
pub fn has_dot_segment(path: &str) -> bool {
    path.split('/')
        .any(|s| s.starts_with('.') && s != "." && s != "..")
}

fn percent_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' {
            let hex = input.get(i + 1..i + 3)?;
            let hi = (hex[0] as char).to_digit(16)?;
            let lo = (hex[1] as char).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    Some(out)
}

/// A directory files are served from: its descriptor (what `openat2` resolves beneath) and
/// its real path (the fallback's check, and what `followSymlinks` mounts open under).
pub struct Root {
    fd: OwnedFd,
    pub real: PathBuf,
}

impl Root {
    pub fn open(path: &Path) -> io::Result<Root> {
        let real = std::fs::canonicalize(path)?;
        let dir = File::open(&real)?;
        if !dir.metadata()?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a directory", real.display()),
            ));
        }
        Ok(Root {
            fd: dir.into(),
            real,
        })
    }

    /// Opens `rel` (already checked by `relative`) for reading. Without `follow_symlinks`, a
    /// symlink may lead anywhere under the root but not outside it (ENOENT-like `Missing`).
    pub fn open_file(&self, rel: &str, follow_symlinks: bool) -> io::Result<File> {
        let rel = if rel.is_empty() { "." } else { rel };
        if follow_symlinks {
            return open_nonblocking(&self.real.join(rel));
        }
        match openat2_beneath(&self.fd, rel) {
            Err(e)
                if e.raw_os_error() == Some(libc::ENOSYS)
                    || e.raw_os_error() == Some(libc::EPERM) =>
            {
                let file = open_nonblocking(&self.real.join(rel))?;
                let real = std::fs::canonicalize(self.real.join(rel))?;
                if real.starts_with(&self.real) {
                    Ok(file)
                } else {
                    Err(io::ErrorKind::NotFound.into())
                }
            }
            // EXDEV: the path resolved outside the root (a symlink out, or a magic link).
            Err(e) if e.raw_os_error() == Some(libc::EXDEV) => Err(io::ErrorKind::NotFound.into()),
            other => other,
        }
    }
}

/// Opens for reading without waiting: opening a FIFO for reading blocks until a writer comes,
/// and this runs on the server thread. (Reads of regular files ignore `O_NONBLOCK`.)
pub fn open_nonblocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn openat2_beneath(dir: &OwnedFd, rel: &str) -> io::Result<File> {
    let path = CString::new(Path::new(rel).as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `open_how` is three integers (libc marks it non-exhaustive, for fields a later
    // kernel may add, which must then be zero too): all-zero is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK) as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: FFI call with a valid directory descriptor we own, a NUL-terminated path that
    // outlives the call, and a pointer to an `open_how` of the size we pass. The kernel returns
    // a new descriptor or -1; nothing is borrowed past the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us, open and owned by nobody else.
    Ok(unsafe { File::from_raw_fd(fd as i32) })
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn openat2_beneath(_dir: &OwnedFd, _rel: &str) -> io::Result<File> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_refuses_what_could_escape() {
        let ok = |s: &str| relative(s, Dotfiles::Ignore);
        assert_eq!(ok("a/b.txt"), Ok(("a/b.txt".into(), false)));
        assert_eq!(ok("a%20b/"), Ok(("a b".into(), true)));
        assert_eq!(ok(""), Ok(("".into(), true)));
        assert_eq!(ok("./a//b"), Ok(("a/b".into(), false)));
        for bad in [
            "..",
            "a/../b",
            "%2e%2e/x",
            "%2E%2E",
            "a/%2e%2e/%2e%2e",
            "%zz",
            "%",
            "a%00b",
            "%ff",
        ] {
            assert_eq!(ok(bad), Err(Refused::Bad), "{bad}");
        }
        for missing in [
            "a%2fb",
            "a%2F..",
            "..\\x",
            "a%5c..%5cb",
            ".env",
            "a/.git/config",
        ] {
            assert!(ok(missing).is_err(), "{missing}");
        }
        assert_eq!(ok("a%2fb"), Err(Refused::Missing));
        assert_eq!(ok("%5c"), Err(Refused::Missing));
        // Double encoding decodes once: `%252e` is the literal name `%2e`, never `.`.
        assert_eq!(ok("%252e%252e/x"), Ok(("%2e%2e/x".into(), false)));
        assert_eq!(relative(".env", Dotfiles::Deny), Err(Refused::Denied));
        assert_eq!(
            relative(".well-known/x", Dotfiles::Allow),
            Ok((".well-known/x".into(), false))
        );
        assert!(has_dot_segment("/srv/.git/x") && !has_dot_segment("/srv/a/./b"));
    }

    #[test]
    fn opens_beneath_the_root_only() {
        let base = std::env::temp_dir().join(format!("hn-path-{}", std::process::id()));
        let root = base.join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(base.join("secret"), "secret").unwrap();
        std::fs::write(root.join("sub/in.txt"), "in").unwrap();
        let _ = std::fs::remove_file(root.join("out"));
        let _ = std::fs::remove_file(root.join("alias"));
        std::os::unix::fs::symlink(base.join("secret"), root.join("out")).unwrap();
        std::os::unix::fs::symlink("sub/in.txt", root.join("alias")).unwrap();
        let r = Root::open(&root).unwrap();
        assert!(r.open_file("sub/in.txt", false).is_ok());
        assert!(r.open_file("alias", false).is_ok());
        assert_eq!(
            r.open_file("out", false).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert!(r.open_file("out", true).is_ok());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
