//! Files people upload, parsed whole: a device list (K9). A bad line refuses the whole file,
//! naming the line (the header is line 1) and never echoing what it held.

use csp_events::entitlement::DeviceActivation;
use csp_events::kernel::Rejection;
use csp_events::Timestamp;

use crate::domain::migration::line_error;

/// The most bytes a device list may have.
pub const MAX_DEVICE_FILE: usize = 1 << 20;

/// Parses a device list: header `device,last_kms_activation`, then one device per line
/// (RFC 3339 times in UTC). Returns each device with its line number.
pub fn devices(text: &str) -> Result<Vec<(usize, DeviceActivation)>, Rejection> {
    if text.len() > MAX_DEVICE_FILE {
        return Err(Rejection::new(
            csp_events::ErrorCode::InvalidRequest,
            format!("the device list is larger than {MAX_DEVICE_FILE} bytes: split it"),
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|_| line_error(1, "the header line is not CSV".into()))?
        .clone();
    let columns: Vec<&str> = headers.iter().collect();
    if columns != ["device", "last_kms_activation"] {
        return Err(line_error(
            1,
            "the header must be `device,last_kms_activation`".into(),
        ));
    }
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = record
            .as_ref()
            .ok()
            .and_then(|r| r.position())
            .map_or(i + 2, |p| usize::try_from(p.line()).unwrap_or(i + 2));
        let record = record.map_err(|_| line_error(line, "not a CSV line of two fields".into()))?;
        let (Some(device), Some(at), None) = (record.get(0), record.get(1), record.get(2)) else {
            return Err(line_error(
                line,
                "expected two fields: device, last_kms_activation".into(),
            ));
        };
        if device.is_empty() || device.len() > 255 {
            return Err(line_error(
                line,
                "the device name must be 1 to 255 characters".into(),
            ));
        }
        let Ok(at) = at.parse::<Timestamp>() else {
            return Err(line_error(
                line,
                "last_kms_activation is not an RFC 3339 UTC time (e.g. 2026-06-01T09:30:00Z)"
                    .into(),
            ));
        };
        out.push((
            line,
            DeviceActivation {
                device: device.to_string(),
                last_kms_activation: at,
            },
        ));
    }
    Ok(out)
}

/// One key line of a key file: its line, its pool, the key.
pub type KeyLine = (
    usize,
    csp_events::entitlement::PoolRef,
    crate::secret::ProductKey,
);

/// Parses a chunk of a key file: header `product,sku,version,type,key`, then one key per line.
/// `first_line` is the original file's line of the chunk's first key line. A product, SKU or
/// version the catalog does not offer, a type other than MAK, a KMS key — by type or because it
/// is a generic KMS client key Microsoft publishes (K4) — or a malformed key refuses the whole
/// file, naming the line and never the key.
pub fn keys(
    text: &str,
    first_line: usize,
    catalog: &csp_catalog::Catalog,
) -> Result<Vec<KeyLine>, Rejection> {
    use csp_events::entitlement::PoolRef;
    use csp_events::market::{ProductId, SkuId};
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|_| line_error(1, "the header line is not CSV".into()))?
        .clone();
    if headers.iter().collect::<Vec<_>>() != ["product", "sku", "version", "type", "key"] {
        return Err(line_error(
            1,
            "the header must be `product,sku,version,type,key`".into(),
        ));
    }
    let kms = |line: usize, why: &str| {
        Rejection::new(
            csp_events::ErrorCode::KmsNotAllowed,
            format!("line {line}: {why}: CSP activates by MAK only; nothing was imported"),
        )
        .with("line", line)
    };
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = first_line + i;
        let record =
            record.map_err(|_| line_error(line, "not a CSV line of five fields".into()))?;
        let field = |n: usize| record.get(n).unwrap_or("");
        if record.len() != 5 {
            return Err(line_error(
                line,
                "expected five fields: product, sku, version, type, key".into(),
            ));
        }
        let product = ProductId::new(field(0))
            .ok()
            .and_then(|p| catalog.product(&p).map(|prod| (p, prod)));
        let Some((product_id, product)) = product else {
            return Err(line_error(line, "the catalog has no such product".into()));
        };
        let sku = SkuId::new(field(1))
            .ok()
            .and_then(|s| product.sku(&s).map(|sku| (s, sku)));
        let Some((sku_id, sku)) = sku else {
            return Err(line_error(line, "the product has no such SKU".into()));
        };
        if !sku.downloads.versions.iter().any(|v| v == field(2)) {
            return Err(line_error(
                line,
                format!(
                    "the SKU offers no such version: one of {}",
                    sku.downloads.versions.join(", ")
                ),
            ));
        }
        match field(3).to_ascii_uppercase().as_str() {
            "MAK" => {}
            "KMS" => return Err(kms(line, "a KMS key")),
            _ => return Err(line_error(line, "the type must be MAK".into())),
        }
        let Some(key) = crate::secret::ProductKey::parse(field(4)) else {
            return Err(line_error(
                line,
                "the key is not five groups of five characters".into(),
            ));
        };
        if catalog.is_kms_client_key(&key.normalised()) {
            return Err(kms(line, "a generic KMS client key"));
        }
        let pool = PoolRef {
            product: product_id,
            sku: sku_id,
            version: field(2).to_string(),
        };
        out.push((line, pool, key));
    }
    if out.is_empty() {
        return Err(line_error(first_line, "no key lines".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_list_parses_and_a_bad_line_is_named() {
        let ok = devices("device,last_kms_activation\nsrv-1,2026-06-01T09:30:00Z\n\"srv, 2\",2026-06-02T00:00:00Z\n").unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[1].0, 3);
        assert_eq!(ok[1].1.device, "srv, 2");
        for (text, line) in [
            ("name,when\nsrv,2026-06-01T09:30:00Z\n", 1),
            (
                "device,last_kms_activation\nsrv-1,2026-06-01T09:30:00Z\nsrv-2,yesterday\n",
                3,
            ),
            (
                "device,last_kms_activation\nsrv-1,2026-06-01T09:30:00Z,extra\n",
                2,
            ),
            ("device,last_kms_activation\n,2026-06-01T09:30:00Z\n", 2),
        ] {
            let r = devices(text).unwrap_err();
            assert_eq!(r.details["line"], line, "{text:?}: {}", r.message);
        }
    }

    /// Proves rule K4 (and K9's files): a bad line refuses the whole file.
    #[test]
    fn k4_a_key_file_with_a_bad_line_is_refused_naming_the_line_and_never_the_key() {
        let catalog = csp_catalog::Catalog::load(csp_catalog::sample_dir()).unwrap();
        let head = "product,sku,version,type,key\n";
        let good = "sql-server-2022-standard,2-core-p1y,SQL Server 2022,MAK,BCDFG-HJKMP-QRTVW-XY234-67896\n";
        let parsed = keys(&format!("{head}{good}{good}"), 2, &catalog).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!((parsed[0].0, parsed[1].0), (2, 3));
        for (bad, line, code) in [
            ("sql-server-2022-standard,2-core-p1y,SQL Server 2022,MAK,BCDFG-HJKMP-QRTVW-XY234-6789\n", 3, "invalid_request"),
            ("sql-server-2022-standard,2-core-p1y,SQL Server 2022,KMS,BCDFG-HJKMP-QRTVW-XY234-67896\n", 3, "kms_not_allowed"),
            ("sql-server-2022-standard,2-core-p1y,SQL Server 2022,MAK,wx4nm-kywyw-qjjr4-xv3qb-6vm33\n", 3, "kms_not_allowed"),
            ("sql-server-2022-standard,2-core-p1y,SQL Server 2019,MAK,BCDFG-HJKMP-QRTVW-XY234-67896\n", 3, "invalid_request"),
            ("no-such-product,2-core-p1y,SQL Server 2022,MAK,BCDFG-HJKMP-QRTVW-XY234-67896\n", 3, "invalid_request"),
            ("sql-server-2022-standard,no-sku,SQL Server 2022,MAK,BCDFG-HJKMP-QRTVW-XY234-67896\n", 3, "invalid_request"),
            ("sql-server-2022-standard,2-core-p1y,SQL Server 2022,MAK\n", 3, "invalid_request"),
        ] {
            let text = format!("{head}{good}{bad}");
            let r = keys(&text, 2, &catalog).unwrap_err();
            assert_eq!(r.code.as_str(), code, "{bad}: {}", r.message);
            assert_eq!(r.details["line"], line, "{bad}: {}", r.message);
            for secret in ["BCDFG", "WX4NM", "wx4nm"] {
                assert!(!r.message.contains(secret), "the key is never echoed: {}", r.message);
            }
        }
        let r = keys("product,sku,version,key\n", 2, &catalog).unwrap_err();
        assert_eq!(r.details["line"], 1);
    }
}
