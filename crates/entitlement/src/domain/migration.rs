//! Moving a customer from volume licensing to CSP with no downtime (K9): a device activated by
//! KMS stays activated 180 days after its last KMS activation; deploying a MAK before then
//! avoids any downtime. The plan is computed at the time asked, never stored: a device's state
//! changes with the clock, not with an event.

use std::collections::BTreeMap;

pub use csp_events::entitlement::DeviceState;
use csp_events::entitlement::{DeviceActivation, DevicesImported, MakDeployed};
use csp_events::kernel::Rejection;
use csp_events::{ErrorCode, Event, ImportId, TenantId, Timestamp};

/// How long a KMS activation lasts (K9).
pub const KMS_ACTIVATION_DAYS: i64 = 180;
/// A device with this many days or fewer left is `due_soon` (K9).
pub const DUE_SOON_DAYS: i64 = 30;
/// The most devices one import may list.
pub const MAX_DEVICES: usize = 10_000;

const DAY_MICROS: i64 = 86_400_000_000;

/// One device of a customer's plan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Device {
    /// Its last KMS activation.
    pub last_kms_activation: Timestamp,
    /// When a MAK was deployed on it, if one was.
    pub mak_deployed_at: Option<Timestamp>,
}

impl Device {
    /// Last activation + 180 days: when the KMS activation runs out.
    pub fn deadline(&self) -> Timestamp {
        Timestamp::from_micros(
            self.last_kms_activation
                .as_micros()
                .saturating_add(KMS_ACTIVATION_DAYS * DAY_MICROS),
        )
    }

    /// The device's state at `now` (K9).
    pub fn state(&self, now: Timestamp) -> DeviceState {
        if self.mak_deployed_at.is_some() {
            return DeviceState::Completed;
        }
        let left = self.deadline().as_micros() - now.as_micros();
        if left <= 0 {
            DeviceState::Overdue
        } else if left <= DUE_SOON_DAYS * DAY_MICROS {
            DeviceState::DueSoon
        } else {
            DeviceState::Ok
        }
    }
}

/// A customer's devices, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Plan {
    /// The devices.
    pub devices: BTreeMap<String, Device>,
}

impl Plan {
    /// Folds one migration event; others are ignored.
    pub fn evolve(&mut self, event: &Event) {
        match event {
            Event::DevicesImported(i) => {
                for d in &i.devices {
                    let device = self.devices.entry(d.device.clone()).or_insert(Device {
                        last_kms_activation: d.last_kms_activation,
                        mak_deployed_at: None,
                    });
                    if d.last_kms_activation > device.last_kms_activation {
                        device.last_kms_activation = d.last_kms_activation;
                    }
                }
            }
            Event::MakDeployed(m) => {
                if let Some(d) = self.devices.get_mut(&m.device) {
                    d.mak_deployed_at.get_or_insert(m.deployed_at);
                }
            }
            _ => {}
        }
    }
}

/// Imports a device list (already parsed, each with its line number): a device listed twice
/// in one file or dated in the future refuses the whole file naming the line; nothing is
/// half-imported.
pub fn import(
    customer: TenantId,
    import: ImportId,
    devices: Vec<(usize, DeviceActivation)>,
    now: Timestamp,
) -> Result<Vec<Event>, Rejection> {
    if devices.is_empty() {
        return Err(Rejection::new(
            ErrorCode::InvalidRequest,
            "the device list has no devices: give a header line `device,last_kms_activation` and one line per device",
        ));
    }
    if devices.len() > MAX_DEVICES {
        return Err(Rejection::new(
            ErrorCode::InvalidRequest,
            format!("at most {MAX_DEVICES} devices per import: split the list"),
        ));
    }
    let mut seen = BTreeMap::new();
    for (line, d) in &devices {
        if let Some(first) = seen.insert(d.device.as_str(), *line) {
            return Err(line_error(
                *line,
                format!(
                    "device {:?} is listed twice (first at line {first})",
                    d.device
                ),
            ));
        }
        if d.last_kms_activation > now {
            return Err(line_error(
                *line,
                format!(
                    "device {:?}: its last KMS activation {} is in the future",
                    d.device, d.last_kms_activation
                ),
            ));
        }
    }
    Ok(vec![DevicesImported {
        customer,
        import,
        devices: devices.into_iter().map(|(_, d)| d).collect(),
    }
    .into()])
}

/// Records a MAK deployment on a device of the plan, which completes it (K9). Recording it
/// again records nothing.
pub fn deploy(
    plan: &Plan,
    customer: TenantId,
    device: &str,
    now: Timestamp,
) -> Result<Vec<Event>, Rejection> {
    let Some(d) = plan.devices.get(device) else {
        return Err(Rejection::new(
            ErrorCode::NotFound,
            format!("the customer's migration plan has no device {device:?}; import its device list first"),
        )
        .with("device", device));
    };
    if d.mak_deployed_at.is_some() {
        return Ok(Vec::new());
    }
    Ok(vec![MakDeployed {
        customer,
        device: device.to_string(),
        deployed_at: now,
    }
    .into()])
}

/// `invalid_request` naming the file's line (1-based, the header being line 1).
pub fn line_error(line: usize, message: String) -> Rejection {
    Rejection::new(
        ErrorCode::InvalidRequest,
        format!("line {line}: {message}; nothing was imported"),
    )
    .with("line", line)
}
