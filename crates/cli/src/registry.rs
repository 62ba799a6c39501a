//! Every service this build has, in one table: what `csp up`, `csp serve`, `csp send` and
//! `csp replay` read, so adding a service is one line here, not a `match` in each verb.
//!
//! A verb that needs the service's type (to start it, replay it or read its endpoint table)
//! hands a [`Visit`] to [`visit`], which calls it with the right type and a [`Make`] for its
//! configuration: made only by the verbs that run the service (replay and send never open a
//! keyring).

use std::path::Path;

use csp_audit::service::AuditService;
use csp_billing::service::BillingService;
use csp_bus::Service;
use csp_counter::{service::Second, CounterObserver, CounterService, CounterWatcher};
use csp_entitlement::service::EntitlementService;
use csp_ordering::service::OrderingService;

use crate::serve::{AuditArgs, BillingArgs, EntitlementArgs};

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
        name: csp_entitlement::service::SERVICE,
        in_system: true,
    },
    Entry {
        name: csp_billing::service::SERVICE,
        in_system: true,
    },
    Entry {
        name: csp_audit::service::SERVICE,
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

/// Something a verb does with one service, given its type and how to make its configuration.
pub trait Visit {
    /// What it yields.
    type Output;
    /// Does it for `S`; `config` makes what `S` is started with, if the verb needs it.
    fn visit<S: Service>(self, config: Make<'_, S>) -> Self::Output;
}

/// Makes a service's configuration, when (and only if) a verb needs it.
pub struct Make<'a, S: Service>(Box<dyn FnOnce() -> anyhow::Result<S::Config> + Send + 'a>);

impl<S: Service> Make<'_, S> {
    /// The configuration.
    pub fn config(self) -> anyhow::Result<S::Config> {
        (self.0)()
    }
}

/// What services' configurations are made from.
#[derive(Clone, Copy)]
pub struct Setup<'a> {
    /// The catalog directory a selling service loads (default: the sample compiled in).
    pub catalog: Option<&'a Path>,
    /// The service's own data directory (its log is `<dir>/log`; entitlement's keyring
    /// `<dir>/keyring`).
    pub dir: &'a Path,
    /// The installation's data directory (`--data`): secrets are kept outside it.
    pub root: &'a Path,
    /// Entitlement's keys, links and downloads.
    pub entitlement: &'a EntitlementArgs,
    /// Billing's month close.
    pub billing: &'a BillingArgs,
    /// Audit's checkpoint key and interval.
    pub audit: &'a AuditArgs,
}

/// Calls `v` with the service named `name` and how to make its configuration from `setup`.
pub fn visit<V: Visit>(name: &str, setup: Setup<'_>, v: V) -> anyhow::Result<V::Output> {
    fn make<'a, S: Service>(
        f: impl FnOnce() -> anyhow::Result<S::Config> + Send + 'a,
    ) -> Make<'a, S> {
        Make(Box::new(f))
    }
    Ok(match name {
        csp_ordering::service::SERVICE => {
            v.visit::<OrderingService>(make(move || crate::serve::catalog(setup.catalog)))
        }
        csp_entitlement::service::SERVICE => {
            v.visit::<EntitlementService>(make(move || crate::serve::entitlement_config(setup)))
        }
        csp_billing::service::SERVICE => {
            v.visit::<BillingService>(make(move || Ok(setup.billing.config())))
        }
        csp_audit::service::SERVICE => {
            v.visit::<AuditService>(make(move || crate::serve::audit_config(setup)))
        }
        csp_events::counter::SERVICE => v.visit::<CounterService>(make(|| Ok(()))),
        "counter-b" => v.visit::<CounterService<Second>>(make(|| Ok(()))),
        csp_counter::observer::SERVICE => v.visit::<CounterObserver>(make(|| Ok(()))),
        csp_counter::watcher::SERVICE => v.visit::<CounterWatcher>(make(|| Ok(()))),
        other => anyhow::bail!("unknown service {other:?}; this build has: {}", names()),
    })
}

/// A setup for verbs that never make a configuration (send, replay).
pub fn no_setup<R>(f: impl FnOnce(Setup<'_>) -> R) -> R {
    let args = EntitlementArgs::default();
    let billing = BillingArgs::default();
    let audit = AuditArgs::default();
    f(Setup {
        catalog: None,
        dir: Path::new("."),
        root: Path::new("."),
        entitlement: &args,
        billing: &billing,
        audit: &audit,
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
            fn visit<S: Service>(self, _: Make<'_, S>) -> &'static str {
                S::NAME
            }
        }
        no_setup(|setup| {
            for e in SERVICES {
                assert_eq!(visit(e.name, setup, Name).unwrap(), e.name);
            }
            assert!(visit("billing-v0", setup, Name).is_err());
        });
    }
}
