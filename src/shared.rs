//! Native state shared by name across the servers and JS threads of one process: the addon is
//! loaded once per process, so every worker thread of `serve()` reaches this one registry. Values
//! are found by their type and name, so two kinds of state never meet under one name. A name stays
//! bound while someone holds its value (`Weak`): the last holder gone, the next call makes a
//! fresh one.

use std::any::{Any, TypeId};
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

type Registry = Mutex<HashMap<(TypeId, String), Entry>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// The `T` bound to `name`, or the one `make` builds (then bound); without a name, `make`'s,
/// shared with no one.
pub fn shared<T, E>(
    name: Option<&str>,
    make: impl FnOnce() -> Result<Arc<T>, E>,
) -> Result<Arc<T>, E>
where
    T: Send + Sync + 'static,
{
    let Some(name) = name else {
        return make();
    };
    let key = (TypeId::of::<T>(), name.to_owned());
    let mut map = registry().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(value) = map
        .get(&key)
        .and_then(|e| e.weak.downcast_ref::<Weak<T>>())
        .and_then(Weak::upgrade)
    {
        return Ok(value);
    }
    let value = make()?;
    // Names left by values no one holds any more go now, so the map is only as big as what lives.
    map.retain(|_, entry| (entry.alive)(&*entry.weak));
    map.insert(
        key,
        Entry {
            weak: Box::new(Arc::downgrade(&value)),
            alive: alive::<T>,
        },
    );
    Ok(value)
}

/// `shared` for state that starts as its `Default`.
pub fn shared_default<T: Default + Send + Sync + 'static>(name: Option<&str>) -> Arc<T> {
    match shared(name, || Ok::<_, std::convert::Infallible>(Arc::default())) {
        Ok(value) => value,
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

    #[test]
    fn one_value_per_name_while_held() {
        let make = |n| move || Ok::<_, ()>(Arc::new(AtomicU64::new(n)));
        let a = shared(Some("t/a"), make(1)).unwrap();
        let again = shared(Some("t/a"), make(2)).unwrap();
        assert!(Arc::ptr_eq(&a, &again));
        let other = shared(Some("t/b"), make(3)).unwrap();
        assert!(!Arc::ptr_eq(&a, &other));
        let unnamed = shared(None, make(5)).unwrap();
        assert!(!Arc::ptr_eq(&a, &unnamed));
        drop((a, again));
        let fresh = shared(Some("t/a"), make(4)).unwrap();
        assert_eq!(fresh.load(Relaxed), 4);
    }

    #[test]
    fn kinds_never_meet_under_one_name() {
        let number = shared(Some("t/kind"), || Ok::<_, ()>(Arc::new(AtomicU64::new(1)))).unwrap();
        let text: Arc<String> = shared_default(Some("t/kind"));
        assert_eq!(number.load(Relaxed), 1);
        assert_eq!(*text, "");
    }
}
