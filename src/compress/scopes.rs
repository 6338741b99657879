//! Which policy a request falls under: the app's (`createApp({ compression })`), or its
//! route's own (`{ compression }` in the route options, `false` turning it off there); and what
//! a request dispatched under one accepts, carried with it until its answer arrives.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Coding, Policy};

/// The app's policy and the routes that differ from it.
#[derive(Clone, Debug, Default)]
pub struct Scopes {
    app: Option<Arc<Policy>>,
    /// `None`: compression off for that route.
    routes: HashMap<u32, Option<Arc<Policy>>>,
}

impl Scopes {
    pub fn new(app: Option<Policy>) -> Scopes {
        Scopes {
            app: app.map(Arc::new),
            routes: HashMap::new(),
        }
    }

    /// Route `id` compresses under `policy` (`None`: not at all) instead of the app's.
    pub fn set_route(&mut self, id: u32, policy: Option<Policy>) {
        self.routes.insert(id, policy.map(Arc::new));
    }

    /// The app's policy: answers outside any route (`app.static`, unmatched requests).
    pub fn app(&self) -> Option<&Arc<Policy>> {
        self.app.as_ref()
    }

    /// The policy for JS route `id`. One map lookup only when some route has its own.
    pub fn for_route(&self, id: u32) -> Option<&Arc<Policy>> {
        if self.routes.is_empty() {
            return self.app.as_ref();
        }
        match self.routes.get(&id) {
            Some(own) => own.as_ref(),
            None => self.app.as_ref(),
        }
    }

    /// What a request under `policy` accepts (`Policy::negotiate` of its `Accept-Encoding`).
    pub fn accept(policy: &Arc<Policy>, accept_encoding: Option<&[u8]>) -> Accepted {
        Accepted {
            coding: policy.negotiate(accept_encoding),
            policy: policy.clone(),
        }
    }
}

/// A request dispatched under a policy: the coding its client accepts, and the policy that
/// decides whether its answer is compressed (and carries `Vary`). Shared with the JS thread
/// when JS writes the answer itself, hence `Arc`.
#[derive(Clone, Debug)]
pub struct Accepted {
    pub coding: Coding,
    pub policy: Arc<Policy>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_override_the_app() {
        let mut s = Scopes::new(Some(Policy::default()));
        assert!(s.for_route(1).is_some());
        s.set_route(2, None);
        s.set_route(
            3,
            Some(Policy::new(
                &[Coding::Gzip],
                0,
                Default::default(),
                Default::default(),
            )),
        );
        assert!(s.for_route(1).is_some_and(|p| p.encodings().len() == 3));
        assert!(s.for_route(2).is_none());
        assert_eq!(s.for_route(3).unwrap().encodings(), &[Coding::Gzip]);
        let off = Scopes::default();
        assert!(off.for_route(1).is_none() && off.app().is_none());
        let a = Scopes::accept(s.for_route(3).unwrap(), Some(b"br, gzip"));
        assert_eq!(a.coding, Coding::Gzip);
    }
}
