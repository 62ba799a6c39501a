//! Lists in pages with cursors: every list of every service, one way.

use csp_events::kernel::Rejection;
use csp_events::ErrorCode;

/// The most items one page of a list holds (and the default): a reply must fit on the bus.
pub const PAGE_MAX: u32 = 1000;

/// One page of `items` (in their list order): those after the item whose id is `after`, at
/// most `limit`; and the cursor of the next page (the last returned item's id) if more remain.
/// A cursor names an item, not a position, so a page asked for later still starts right after
/// what the client has seen.
pub fn page<T: Clone>(
    items: Vec<&T>,
    id: impl Fn(&T) -> String,
    after: Option<&str>,
    limit: Option<u32>,
) -> Result<(Vec<T>, Option<String>), Rejection> {
    let limit = limit_of(limit)?;
    let start = match after {
        None => 0,
        Some(a) => match items.iter().position(|i| id(i) == a) {
            Some(p) => p + 1,
            None => {
                return Err(invalid(
                    "after",
                    format!("{a:?} is not in this list; give the `next` of the previous page, or nothing for the first"),
                ))
            }
        },
    };
    let rest = items.len().saturating_sub(start);
    let taken: Vec<T> = items.into_iter().skip(start).take(limit).cloned().collect();
    let next = if rest > limit {
        taken.last().map(&id)
    } else {
        None
    };
    Ok((taken, next))
}

/// One page of a list whose items are numbered 1 to `len` and named by their numbers (an
/// invoice's lines): the range of positions to return and the next cursor, found by
/// arithmetic rather than a scan, so paging through 100,000 lines stays linear.
pub fn page_numbered(
    len: usize,
    after: Option<&str>,
    limit: Option<u32>,
) -> Result<(std::ops::Range<usize>, Option<String>), Rejection> {
    let limit = limit_of(limit)?;
    let start = match after {
        None => 0,
        Some(a) => match a.parse::<usize>() {
            Ok(n) if (1..=len).contains(&n) => n,
            _ => {
                return Err(invalid(
                    "after",
                    format!("{a:?} is not in this list; give the `next` of the previous page, or nothing for the first"),
                ))
            }
        },
    };
    let end = len.min(start + limit);
    let next = (end < len).then(|| end.to_string());
    Ok((start..end, next))
}

fn limit_of(limit: Option<u32>) -> Result<usize, Rejection> {
    Ok(match limit {
        None => PAGE_MAX,
        Some(n) if (1..=PAGE_MAX).contains(&n) => n,
        Some(n) => {
            return Err(invalid(
                "limit",
                format!("{n} is out of range: ask for 1 to {PAGE_MAX} items"),
            ))
        }
    } as usize)
}

fn invalid(path: &str, message: String) -> Rejection {
    Rejection::new(
        ErrorCode::InvalidRequest,
        format!("field `{path}`: {message}"),
    )
    .with("path", path)
    .with("reason", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(items: &[u32]) -> Vec<u32> {
        items.to_vec()
    }

    #[test]
    fn pages_follow_the_cursor_to_the_end() {
        let all: Vec<u32> = (1..=7).collect();
        let list = || all.iter().collect::<Vec<_>>();
        let id = |i: &u32| i.to_string();
        // given 7 items, when asked 3 at a time, then 3 pages chained by their cursors
        let (p1, next) = page(list(), id, None, Some(3)).unwrap();
        assert_eq!((ids(&p1), next.as_deref()), (vec![1, 2, 3], Some("3")));
        let (p2, next) = page(list(), id, next.as_deref(), Some(3)).unwrap();
        assert_eq!((ids(&p2), next.as_deref()), (vec![4, 5, 6], Some("6")));
        let (p3, next) = page(list(), id, next.as_deref(), Some(3)).unwrap();
        assert_eq!((ids(&p3), next), (vec![7], None));
        // a page that ends exactly at the end has no next
        let (p, next) = page(list(), id, Some("4"), Some(3)).unwrap();
        assert_eq!((ids(&p), next), (vec![5, 6, 7], None));
        // without a limit, everything up to the maximum
        let (p, next) = page(list(), id, None, None).unwrap();
        assert_eq!((p.len(), next), (7, None));
    }

    #[test]
    fn a_bad_limit_or_cursor_is_invalid_request_naming_it() {
        let all: Vec<u32> = (1..=3).collect();
        let list = || all.iter().collect::<Vec<_>>();
        let id = |i: &u32| i.to_string();
        for limit in [0, PAGE_MAX + 1] {
            let r = page(list(), id, None, Some(limit)).unwrap_err();
            assert_eq!(
                (r.code, r.details["path"].as_str()),
                (ErrorCode::InvalidRequest, Some("limit"))
            );
        }
        let r = page(list(), id, Some("9"), None).unwrap_err();
        assert_eq!(
            (r.code, r.details["path"].as_str()),
            (ErrorCode::InvalidRequest, Some("after"))
        );
    }
}
