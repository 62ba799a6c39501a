//! Who may see what (RULES.md K5): the tenancy module's rules and checks, the same for every
//! service. Keys, links, the migration plan and key generation take [`KEY_VIEWERS`] (the
//! serving partner's `admin_agent`, the customer's own `global_admin`); the Software page, which
//! lists items and shows no secret, takes [`PURCHASE_READERS`] as ordering's lists do; the key
//! pools are the platform's (`importer`, `operator`).

use csp_events::Role;
pub use csp_tenancy::{
    check, forbidden, platform, Named, Rule, Scope, KEY_VIEWERS, PURCHASE_READERS,
};

/// Who may read the key pools: the platform's importer (who fills them) and operator.
pub const POOL_READERS: [Role; 2] = [Role::Importer, Role::Operator];
