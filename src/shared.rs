//! Native state shared by name across the servers and JS threads of one process: the addon is
//! loaded once per process, so every worker thread of `serve()` reaches this one registry. A
//! name stays bound while someone holds its value (`Weak`): the last holder gone, the next
//! `shared` call makes a fresh one.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// A `Weak<T>` for some `T`, and how to ask it whether its value still lives without knowing `T`.
struct Entry {
    weak: Box<dyn Any + Send + Sync>,
    alive: fn(&(dyn Any + Send + Sync)) -> bool,
}

fn alive<T: Send + Sync + 'static>(weak: &(dyn Any + Send + Sync)) -> bool {
    weak.downcast_ref::<Weak<T>>()
        .is_some_and(|w| w.strong_count() > 0)
}

fn registry() -> &'static Mutex<HashMap<String, Entry>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Entry>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// The value bound to `name`, or the one `make` builds (then bound). A name bound to a value of
/// another type is an error: two kinds of state must not share one.
pub fn shared<T, E>(
    name: &str,
    make: impl FnOnce() -> Result<Arc<T>, E>,
) -> Result<Arc<T>, SharedError<E>>
where
    T: Send + Sync + 'static,
{
    let mut map = registry().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(entry) = map.get(name) {
        match entry.weak.downcast_ref::<Weak<T>>() {
            Some(weak) => {
                if let Some(value) = weak.upgrade() {
                    return Ok(value);
                }
            }
            None => return Err(SharedError::OtherKind),
        }
    }
    let value = make().map_err(SharedError::Make)?;
    // Names left by values no one holds any more go now, so the map is only as big as what lives.
    map.retain(|_, entry| (entry.alive)(&*entry.weak));
    map.insert(
        name.to_owned(),
        Entry {
            weak: Box::new(Arc::downgrade(&value)),
            alive: alive::<T>,
        },
    );
    Ok(value)
}

#[derive(Debug)]
pub enum SharedError<E> {
    Make(E),
    OtherKind,
}

impl<E: std::fmt::Display> std::fmt::Display for SharedError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SharedError::Make(e) => e.fmt(f),
            SharedError::OtherKind => f.write_str("that shared name holds another kind of state"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn one_value_per_name_while_held() {
        let a = shared("t/a", || Ok::<_, ()>(Arc::new(AtomicU64::new(1)))).unwrap();
        let again = shared("t/a", || Ok::<_, ()>(Arc::new(AtomicU64::new(2)))).unwrap();
        assert!(Arc::ptr_eq(&a, &again));
        let other = shared("t/b", || Ok::<_, ()>(Arc::new(AtomicU64::new(3)))).unwrap();
        assert!(!Arc::ptr_eq(&a, &other));
        drop((a, again));
        let fresh = shared("t/a", || Ok::<_, ()>(Arc::new(AtomicU64::new(4)))).unwrap();
        assert_eq!(fresh.load(std::sync::atomic::Ordering::Relaxed), 4);
    }

    #[test]
    fn a_name_keeps_its_kind() {
        let _held = shared("t/kind", || Ok::<_, ()>(Arc::new(AtomicU64::new(1)))).unwrap();
        let other = shared("t/kind", || Ok::<_, ()>(Arc::new(String::from("x"))));
        assert!(matches!(other, Err(SharedError::OtherKind)));
    }
}
