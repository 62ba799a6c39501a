//! Every service this build has, in one table: what `csp up`, `csp serve`, `csp send` and
//! `csp replay` read, so adding a service is one line here, not a `match` in each verb.
//!
//! A verb that needs the service's type (to start it, replay it or read its endpoint table)
//! hands a [`Visit`] to [`visit`], which calls it with the right type and configuration.

use std::path::Path;

use csp_bus::Service;
use csp_counter::{service::Second, CounterObserver, CounterService, CounterWatcher};
use csp_ordering::service::OrderingService;

/// One service of this build.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// Its name: subjects, data directories, the verbs' argument.
    pub name: &'static str,
    /// Whether `csp up` runs it: the product's services, not the runtime's test services.
    pub in_system: bool,
}

/// The services, in the order `csp up` starts them (a consumer after what it consumes).
pub const SERVICES: &[Entry] = &[
    Entry {
        name: csp_ordering::service::SERVICE,
        in_system: true,
    },
    Entry {
        name: csp_events::counter::SERVICE,
        in_system: false,
    },
    Entry {
        name: "counter-b",
        in_system: false,
    },
    Entry {
        name: csp_counter::observer::SERVICE,
        in_system: false,
    },
    Entry {
        name: csp_counter::watcher::SERVICE,
        in_system: false,
    },
];

/// Something a verb does with one service, given its type and its configuration.
pub trait Visit {
    /// What it yields.
    type Output;
    /// Does it for `S`, started with `config`.
    fn visit<S: Service>(self, config: S::Config) -> Self::Output;
}

/// Calls `v` with the service named `name` and its configuration (`catalog`: the catalog
/// directory a selling service loads, default the sample compiled in).
pub fn visit<V: Visit>(name: &str, catalog: Option<&Path>, v: V) -> anyhow::Result<V::Output> {
    Ok(match name {
        csp_ordering::service::SERVICE => {
            v.visit::<OrderingService>(crate::serve::catalog(catalog)?)
        }
        csp_events::counter::SERVICE => v.visit::<CounterService>(()),
        "counter-b" => v.visit::<CounterService<Second>>(()),
        csp_counter::observer::SERVICE => v.visit::<CounterObserver>(()),
        csp_counter::watcher::SERVICE => v.visit::<CounterWatcher>(()),
        other => anyhow::bail!("unknown service {other:?}; this build has: {}", names()),
    })
}

/// The services' names, for messages.
pub fn names() -> String {
    SERVICES
        .iter()
        .map(|e| {
            if e.in_system {
                e.name.to_string()
            } else {
                format!("{} (a test service)", e.name)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table and the dispatch name the same services: one cannot drift from the other.
    #[test]
    fn every_listed_service_is_dispatched_by_its_name() {
        struct Name;
        impl Visit for Name {
            type Output = &'static str;
            fn visit<S: Service>(self, _: S::Config) -> &'static str {
                S::NAME
            }
        }
        for e in SERVICES {
            assert_eq!(visit(e.name, None, Name).unwrap(), e.name);
        }
        assert!(visit("billing-v0", None, Name).is_err());
    }
}
