//! `csp catalog show`: what the catalog sells — products, SKUs, terms, billing plans, prices
//! per currency, download options — and its policies (cancellation windows, tax-inclusive
//! markets), as ordering and entitlement load it, so an operator checks a catalog change
//! before a service starts on it (a bad file is refused naming file, entry and field).

use std::path::PathBuf;

use serde_json::{json, Value};

/// `csp catalog …`.
#[derive(clap::Subcommand)]
pub enum CatalogCommand {
    /// Print the catalog: the directory given, or the sample compiled into this binary.
    Show(ShowArgs),
}

/// Arguments of `csp catalog show`.
#[derive(clap::Args)]
pub struct ShowArgs {
    /// The catalog directory (`policy.toml`, `products/*.toml`). Default: the sample compiled in.
    #[arg(long, env = "CSP_CATALOG")]
    catalog: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".into(),
    }
}

/// Runs `csp catalog …`.
pub fn run(which: CatalogCommand) -> anyhow::Result<()> {
    let CatalogCommand::Show(args) = which;
    let catalog = crate::serve::catalog(args.catalog.as_deref())?;
    let products: Vec<Value> = catalog
        .products()
        .map(|p| {
            let skus: Vec<Value> = p
                .skus
                .values()
                .map(|s| {
                    let terms: Vec<Value> = s
                        .terms
                        .values()
                        .map(|t| {
                            let prices: serde_json::Map<String, Value> = t
                                .prices
                                .keys()
                                .filter_map(|c| t.price(*c))
                                .map(|m| (m.currency.to_string(), json!(m.to_string())))
                                .collect();
                            json!({
                                "term": name(&t.term),
                                "billing_plans": t.billing_plans.iter().map(name).collect::<Vec<_>>(),
                                "prices": prices,
                            })
                        })
                        .collect();
                    json!({
                        "sku": s.id.as_str(),
                        "name": s.name,
                        "terms": terms,
                        "versions": s.downloads.versions,
                        "languages": s.downloads.languages,
                        "file_types": s.downloads.file_types,
                    })
                })
                .collect();
            json!({
                "product": p.id.as_str(),
                "name": p.name,
                "kind": name(&p.kind),
                "cancellable": p.cancellable,
                "license_only": p.license_only,
                "installation_instructions": p.installation_instructions,
                "skus": skus,
            })
        })
        .collect();
    let policies: Vec<Value> = catalog
        .policies()
        .iter()
        .map(|p| {
            json!({
                "version": p.version,
                "effective_from": p.effective_from,
                "cutover": p.cutover,
                "cancellation_window_hours": p.cancellation_window_hours
                    .iter()
                    .map(|(k, h)| (name(k), json!(h)))
                    .collect::<serde_json::Map<_, _>>(),
                "tax_inclusive_markets": p.tax_inclusive_markets.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            })
        })
        .collect();
    if args.json {
        println!("{}", json!({ "products": products, "policies": policies }));
        return Ok(());
    }
    for p in &products {
        println!(
            "{}  {}  ({}{}{})",
            p["product"].as_str().unwrap_or_default(),
            p["name"].as_str().unwrap_or_default(),
            p["kind"].as_str().unwrap_or_default(),
            if p["cancellable"] == true {
                ""
            } else {
                ", not cancellable"
            },
            if p["license_only"] == true {
                ", license only"
            } else {
                ""
            },
        );
        for s in p["skus"].as_array().into_iter().flatten() {
            println!(
                "  {}  {}",
                s["sku"].as_str().unwrap_or_default(),
                s["name"].as_str().unwrap_or_default()
            );
            for t in s["terms"].as_array().into_iter().flatten() {
                let plans: Vec<&str> = t["billing_plans"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let prices: Vec<String> = t["prices"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(_, v)| v.as_str().map(str::to_string))
                    .collect();
                println!(
                    "    {:<10} {:<24} {}",
                    t["term"].as_str().unwrap_or_default(),
                    plans.join(", "),
                    prices.join("  ")
                );
            }
            let versions: Vec<&str> = s["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if !versions.is_empty() {
                println!("    downloads: {}", versions.join(", "));
            }
        }
    }
    for p in &policies {
        println!(
            "policy {} from {}: windows (hours) {}; tax-inclusive markets {}",
            p["version"],
            p["effective_from"].as_str().unwrap_or_default(),
            p["cancellation_window_hours"],
            p["tax_inclusive_markets"]
        );
    }
    Ok(())
}
