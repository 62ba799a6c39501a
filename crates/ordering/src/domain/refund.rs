//! "CSP Purchase/Refund on behalf of customers" requests (rule O12): a partner files one about an
//! order or a subscription of a customer it serves, with reason, amount, contact and optionally
//! impact, title and attached files; the platform's `support` approves it (for at most the
//! amount requested) or declines it. An approved request becomes a credit in billing (RULES.md B7).

use csp_events::kernel::{Context, Decider, Rejection};
use csp_events::ordering::{
    Attachment, Contact, RefundDecision, RefundRequestApproved, RefundRequestDeclined,
    RefundRequestFiled, RefundSubject,
};
use csp_events::{ErrorCode, Event, ItemRef, Money, RefundRequestId, Role, TenantId};
use serde::Serialize;

use super::access::{invalid_request, partner_for, platform, Scope, Target, BUYERS};

/// How a request was decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Decided {
    /// Approved for this amount.
    Approved(Money),
    /// Declined for this reason.
    Declined(String),
}

/// A refund request after its events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    /// As filed.
    pub filed: RefundRequestFiled,
    /// Once decided.
    pub decided: Option<Decided>,
}

/// A refund request's state: `None` until filed.
pub type RefundState = Option<Request>;

/// A "CSP Purchase/Refund on behalf of customers" request as a partner files it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRefund {
    /// The customer, as named.
    pub target: Target,
    /// The order or subscription it is about.
    pub subject: RefundSubject,
    /// The customer that order or subscription belongs to and the partner that sold it, as
    /// the shell found them; `None` when there is no such order or subscription.
    pub subject_owner: Option<(TenantId, TenantId)>,
    /// Why.
    pub reason: String,
    /// How much.
    pub amount_requested: Money,
    /// Who to call.
    pub contact: Contact,
    /// Optional impact.
    pub impact: Option<String>,
    /// Optional title.
    pub title: Option<String>,
    /// Optional files (name and size).
    pub attachments: Vec<Attachment>,
}

/// What is asked of a refund request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundCommand {
    /// File one (a partner buyer); boxed, being far larger than a decision.
    File(Box<FileRefund>),
    /// Decide it (`support`).
    Decide {
        /// The request.
        request: RefundRequestId,
        /// Approve or decline.
        decision: RefundDecision,
        /// Required to approve: at most the amount requested.
        amount: Option<Money>,
        /// Required to decline; an optional note when approving.
        reason: Option<String>,
    },
}

/// The refund-request decider.
pub struct Refund;

fn required(path: &str, value: &str) -> Result<(), Rejection> {
    if value.trim().is_empty() {
        Err(invalid_request(path, "is required and must not be empty"))
    } else {
        Ok(())
    }
}

/// Optional text: absent and blank are the same thing.
fn optional(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl Decider for Refund {
    type State = RefundState;
    type Command = RefundCommand;
    type Event = Event;

    fn decide(s: &RefundState, c: &RefundCommand, ctx: &Context) -> Result<Vec<Event>, Rejection> {
        match c {
            RefundCommand::File(f) => {
                let FileRefund {
                    target,
                    subject,
                    subject_owner,
                    reason,
                    amount_requested,
                    contact,
                    impact,
                    title,
                    attachments,
                } = f.as_ref();
                let customer = partner_for(ctx, target, &BUYERS, "file a refund request")?;
                let (path, item) = match subject {
                    RefundSubject::Order(o) => ("order_id", ItemRef::new("order", o)),
                    RefundSubject::Subscription(s) => {
                        ("subscription_id", ItemRef::new("subscription", s))
                    }
                };
                let missing = || {
                    let message = format!("customer {} has no {item}", target.named);
                    Rejection::new(ErrorCode::NotFound, message).with("path", path)
                };
                // Only what the filing partner sold: another partner's order is not found.
                let scope = Scope::Partner(customer.clone());
                scope.find(*subject_owner, |o| *o, item.clone(), missing)?;
                required("reason", reason)?;
                if amount_requested.amount_minor <= 0 {
                    return Err(invalid_request(
                        "amount_requested.amount_minor",
                        "must be above zero",
                    ));
                }
                if amount_requested.currency != customer.currency {
                    return Err(invalid_request(
                        "amount_requested.currency",
                        format!("the customer is billed in {}", customer.currency),
                    ));
                }
                required("contact.name", &contact.name)?;
                required("contact.email", &contact.email)?;
                required("contact.phone", &contact.phone)?;
                let email = contact.email.trim();
                let shaped = email
                    .split_once('@')
                    .is_some_and(|(user, host)| !user.is_empty() && host.contains('.'))
                    && !email.contains(char::is_whitespace);
                if !shaped {
                    return Err(invalid_request("contact.email", "is not an e-mail address"));
                }
                for (i, a) in attachments.iter().enumerate() {
                    required(&format!("attachments[{i}].name"), &a.name)?;
                }
                if s.is_some() {
                    return Err(Rejection::new(
                        ErrorCode::AlreadyExists,
                        "this refund request exists already",
                    ));
                }
                Ok(vec![RefundRequestFiled {
                    refund_request: RefundRequestId(ctx.new_id("refund_request", 0)),
                    customer: customer.customer,
                    partner: customer.partner,
                    subject: *subject,
                    reason: reason.trim().to_string(),
                    amount_requested: *amount_requested,
                    contact: Contact {
                        name: contact.name.trim().to_string(),
                        email: email.to_string(),
                        phone: contact.phone.trim().to_string(),
                    },
                    impact: optional(impact),
                    title: optional(title),
                    attachments: attachments.clone(),
                }
                .into()])
            }
            RefundCommand::Decide {
                request,
                decision,
                amount,
                reason,
            } => {
                platform(
                    &ctx.actor,
                    Role::Support,
                    "decide a refund request",
                    s.as_ref().map(|r| r.filed.customer),
                )?;
                let r = match s {
                    Some(r) if r.filed.refund_request == *request => r,
                    _ => {
                        return Err(Rejection::new(
                            ErrorCode::NotFound,
                            format!("there is no refund request {request}"),
                        ))
                    }
                };
                if let Some(d) = &r.decided {
                    let what = match d {
                        Decided::Approved(m) => format!("approved for {m}"),
                        Decided::Declined(_) => "declined".to_string(),
                    };
                    return Err(Rejection::new(
                        ErrorCode::InvalidState,
                        format!("refund request {request} was already {what}"),
                    ));
                }
                let requested = r.filed.amount_requested;
                match decision {
                    RefundDecision::Approve => {
                        let Some(amount) = amount else {
                            return Err(invalid_request(
                                "amount",
                                "approving takes the amount approved",
                            ));
                        };
                        if amount.currency != requested.currency {
                            return Err(invalid_request(
                                "amount.currency",
                                format!("the request is in {}", requested.currency),
                            ));
                        }
                        if amount.amount_minor <= 0 || amount.amount_minor > requested.amount_minor
                        {
                            return Err(invalid_request(
                                "amount",
                                format!("must be above zero and at most the {requested} requested; decline instead of approving nothing"),
                            ));
                        }
                        Ok(vec![RefundRequestApproved {
                            refund_request: *request,
                            customer: r.filed.customer,
                            partner: r.filed.partner,
                            amount: *amount,
                            note: optional(reason),
                        }
                        .into()])
                    }
                    RefundDecision::Decline => {
                        if amount.is_some() {
                            return Err(invalid_request("amount", "declining takes no amount"));
                        }
                        let Some(reason) = optional(reason) else {
                            return Err(invalid_request(
                                "reason",
                                "declining takes a reason the partner can act on",
                            ));
                        };
                        Ok(vec![RefundRequestDeclined {
                            refund_request: *request,
                            customer: r.filed.customer,
                            partner: r.filed.partner,
                            reason,
                        }
                        .into()])
                    }
                }
            }
        }
    }

    fn evolve(s: &mut RefundState, e: &Event) {
        match e {
            Event::RefundRequestFiled(f) => {
                *s = Some(Request {
                    filed: f.clone(),
                    decided: None,
                })
            }
            Event::RefundRequestApproved(a) => {
                if let Some(r) = s {
                    if r.filed.refund_request == a.refund_request {
                        r.decided = Some(Decided::Approved(a.amount));
                    }
                }
            }
            Event::RefundRequestDeclined(d) => {
                if let Some(r) = s {
                    if r.filed.refund_request == d.refund_request {
                        r.decided = Some(Decided::Declined(d.reason.clone()));
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing::*;
    use csp_events::kernel::spec::Spec;
    use csp_events::{Currency, OrderId};

    fn order() -> OrderId {
        OrderId(uuid::Uuid::from_u128(0x0d01))
    }

    fn file() -> RefundCommand {
        RefundCommand::File(Box::new(FileRefund {
            target: contoso_target(),
            subject: RefundSubject::Order(order()),
            subject_owner: Some((CONTOSO, PARTNER)),
            reason: "Bought the wrong edition".into(),
            amount_requested: Money::new(389_900, Currency::USD),
            contact: Contact {
                name: "Ana Souza".into(),
                email: "ana@partner.example".into(),
                phone: "+61 2 5550 0100".into(),
            },
            impact: Some("Customer cannot deploy".into()),
            title: None,
            attachments: vec![Attachment {
                name: "invoice.pdf".into(),
                size_bytes: 48_213,
            }],
        }))
    }

    fn filed() -> RefundRequestFiled {
        let out = Spec::<Refund>::given([]).when(&file(), &ctx_partner(Role::AdminAgent, now()));
        match out.result.unwrap().events.remove(0) {
            Event::RefundRequestFiled(f) => f,
            other => panic!("{other:?}"),
        }
    }

    fn decide(
        decision: RefundDecision,
        amount: Option<i64>,
        reason: Option<&str>,
    ) -> RefundCommand {
        RefundCommand::Decide {
            request: filed().refund_request,
            decision,
            amount: amount.map(|a| Money::new(a, Currency::USD)),
            reason: reason.map(str::to_string),
        }
    }

    #[test]
    fn rule_o12_a_refund_request_records_every_field() {
        Spec::<Refund>::given([])
            .when(&file(), &ctx_partner(Role::AdminAgent, now()))
            .then_with(|events| {
                let Event::RefundRequestFiled(f) = &events[0] else {
                    panic!()
                };
                assert_eq!(f.customer, CONTOSO);
                assert_eq!(f.subject, RefundSubject::Order(order()));
                assert_eq!(f.reason, "Bought the wrong edition");
                assert_eq!(f.amount_requested, Money::new(389_900, Currency::USD));
                assert_eq!(f.contact.email, "ana@partner.example");
                assert_eq!(f.impact.as_deref(), Some("Customer cannot deploy"));
                assert_eq!(f.title, None);
                assert_eq!(f.attachments.len(), 1);
            });
    }

    #[test]
    fn rule_o12_a_missing_field_is_invalid_request_naming_it() {
        type Breaker = fn(&mut FileRefund);
        let cases: [(&str, Breaker); 6] = [
            ("reason", |f| f.reason = " ".into()),
            ("contact.name", |f| f.contact.name.clear()),
            ("contact.email", |f| f.contact.email.clear()),
            ("contact.phone", |f| f.contact.phone.clear()),
            ("attachments[0].name", |f| f.attachments[0].name.clear()),
            ("amount_requested.amount_minor", |f| {
                f.amount_requested.amount_minor = 0
            }),
        ];
        for (path, break_it) in cases {
            let mut c = file();
            if let RefundCommand::File(f) = &mut c {
                break_it(f);
            }
            let r = Spec::<Refund>::given([])
                .when(&c, &ctx_partner(Role::AdminAgent, now()))
                .then_reject(ErrorCode::InvalidRequest);
            assert_eq!(r.details["path"], path);
        }
    }

    #[test]
    fn rule_o12_it_names_an_order_or_subscription_of_that_customer() {
        let mut c = file();
        if let RefundCommand::File(f) = &mut c {
            f.subject_owner = Some((FABRIKAM, PARTNER));
        }
        Spec::<Refund>::given([])
            .when(&c, &ctx_partner(Role::AdminAgent, now()))
            .then_reject(ErrorCode::NotFound);
    }

    #[test]
    fn rule_o12_support_approves_up_to_the_amount_requested() {
        let f = filed();
        Spec::<Refund>::given([f.clone().into()])
            .when(
                &decide(
                    RefundDecision::Approve,
                    Some(300_000),
                    Some("three days used"),
                ),
                &ctx_platform(Role::Support, now()),
            )
            .then(&[RefundRequestApproved {
                refund_request: f.refund_request,
                customer: CONTOSO,
                partner: PARTNER,
                amount: Money::new(300_000, Currency::USD),
                note: Some("three days used".into()),
            }
            .into()]);
        let r = Spec::<Refund>::given([f.clone().into()])
            .when(
                &decide(RefundDecision::Approve, Some(389_901), None),
                &ctx_platform(Role::Support, now()),
            )
            .then_reject(ErrorCode::InvalidRequest);
        assert_eq!(r.details["path"], "amount");
        Spec::<Refund>::given([f.clone().into()])
            .when(
                &decide(RefundDecision::Approve, None, None),
                &ctx_platform(Role::Support, now()),
            )
            .then_reject(ErrorCode::InvalidRequest);
    }

    #[test]
    fn rule_o12_support_declines_with_a_reason() {
        let f = filed();
        Spec::<Refund>::given([f.clone().into()])
            .when(
                &decide(RefundDecision::Decline, None, Some("outside policy")),
                &ctx_platform(Role::Support, now()),
            )
            .then(&[RefundRequestDeclined {
                refund_request: f.refund_request,
                customer: CONTOSO,
                partner: PARTNER,
                reason: "outside policy".into(),
            }
            .into()]);
        let r = Spec::<Refund>::given([f.clone().into()])
            .when(
                &decide(RefundDecision::Decline, None, None),
                &ctx_platform(Role::Support, now()),
            )
            .then_reject(ErrorCode::InvalidRequest);
        assert_eq!(r.details["path"], "reason");
    }

    #[test]
    fn rule_o12_only_support_decides_and_only_once() {
        let f = filed();
        let r = Spec::<Refund>::given([f.clone().into()])
            .when(
                &decide(RefundDecision::Approve, Some(1), None),
                &ctx_partner(Role::AdminAgent, now()),
            )
            .then_reject(ErrorCode::Forbidden);
        assert_eq!(r.refused.as_ref().and_then(|f| f.customer), Some(CONTOSO));
        let declined: Event = RefundRequestDeclined {
            refund_request: f.refund_request,
            customer: CONTOSO,
            partner: PARTNER,
            reason: "no".into(),
        }
        .into();
        Spec::<Refund>::given([f.clone().into(), declined])
            .when(
                &decide(RefundDecision::Approve, Some(1), None),
                &ctx_platform(Role::Support, now()),
            )
            .then_reject(ErrorCode::InvalidState);
    }
}
