//! The catalog loader: the shipped sample loads and says what the issue and RULES.md require;
//! every kind of bad file is refused with the file, the entry and the field named.

use std::path::{Path, PathBuf};

use csp_catalog::{Catalog, CatalogError, CatalogFile, Problem};
use csp_events::market::{CountryCode, ProductId, SkuId};
use csp_events::money::Currency;
use csp_events::ordering::{BillingPlan, ProductKind, Term};
use csp_events::Timestamp;

fn sample() -> Catalog {
    match Catalog::load(csp_catalog::sample_dir()) {
        Ok(c) => c,
        Err(e) => panic!("the shipped sample must load: {e}"),
    }
}

fn pid(s: &str) -> ProductId {
    ProductId::new(s).unwrap()
}

fn sid(s: &str) -> SkuId {
    SkuId::new(s).unwrap()
}

fn cc(s: &str) -> CountryCode {
    s.parse().unwrap()
}

/// The sample's files, in memory, so a test can break one of them.
fn sample_files() -> (CatalogFile, Vec<CatalogFile>) {
    let dir = csp_catalog::sample_dir();
    let read = |p: PathBuf| CatalogFile::new(p.clone(), std::fs::read_to_string(&p).unwrap());
    let policy = read(dir.join("policy.toml"));
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir.join("products"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    (policy, names.into_iter().map(read).collect())
}

fn file_named<'a>(files: &'a mut [CatalogFile], name: &str) -> &'a mut CatalogFile {
    files
        .iter_mut()
        .find(|f| f.path.ends_with(name))
        .unwrap_or_else(|| panic!("no sample file {name}"))
}

/// Loads the sample with `from` replaced by `to` in the file named `name`, and returns the error.
fn broken(name: &str, from: &str, to: &str) -> CatalogError {
    let (mut policy, mut products) = sample_files();
    let f = if name == "policy.toml" {
        &mut policy
    } else {
        file_named(&mut products, name)
    };
    assert!(f.text.contains(from), "{name} has no {from:?}");
    f.text = f.text.replacen(from, to, 1);
    match Catalog::from_files(&policy, &products) {
        Ok(_) => panic!("a catalog with {to:?} instead of {from:?} in {name} was accepted"),
        Err(e) => e,
    }
}

/// Asserts the error names `file`, `entry` and `field`, and that its message does too.
#[track_caller]
fn names(e: &CatalogError, file: &str, entry: &str, field: &str) {
    assert!(e.file().ends_with(file), "file: {e}");
    assert_eq!(e.entry(), Some(entry), "entry: {e}");
    assert_eq!(e.field(), Some(field), "field: {e}");
    let text = e.to_string();
    for part in [file, entry, field] {
        assert!(
            text.contains(part),
            "the message {text:?} does not name {part:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The shipped sample
// ---------------------------------------------------------------------------------------------

#[test]
fn the_shipped_sample_loads_with_every_product_the_issue_lists() {
    let c = sample();
    let expect = [
        (
            "windows-server-2022-datacenter",
            ProductKind::SoftwareSubscription,
        ),
        (
            "windows-server-2022-standard",
            ProductKind::SoftwareSubscription,
        ),
        (
            "sql-server-2022-standard",
            ProductKind::SoftwareSubscription,
        ),
        (
            "sql-server-2022-enterprise",
            ProductKind::SoftwareSubscription,
        ),
        (
            "windows-server-2022-rds-user-cal",
            ProductKind::SoftwareSubscription,
        ),
        ("esu-windows-server-2012", ProductKind::SoftwareSubscription),
        ("rhel-software-plan", ProductKind::SoftwareSubscription),
        ("sles-software-plan", ProductKind::SoftwareSubscription),
        (
            "sql-server-2022-standard-perpetual",
            ProductKind::PerpetualSoftware,
        ),
        (
            "windows-server-2022-user-cal",
            ProductKind::SoftwareSubscription,
        ),
        ("azure-reserved-vm-instances", ProductKind::AzureReservation),
    ];
    for (id, kind) in expect {
        let p = c
            .product(&pid(id))
            .unwrap_or_else(|| panic!("{id} missing"));
        assert_eq!(p.kind, kind, "{id}");
    }
    // Core packs, SQL and the reservation are sold for one and three years.
    for id in [
        "windows-server-2022-datacenter",
        "windows-server-2022-standard",
        "sql-server-2022-standard",
        "sql-server-2022-enterprise",
        "azure-reserved-vm-instances",
    ] {
        let p = c.product(&pid(id)).unwrap();
        let terms: Vec<Term> = p.skus.values().flat_map(|s| s.available_terms()).collect();
        assert!(
            terms.contains(&Term::P1Y) && terms.contains(&Term::P3Y),
            "{id}: {terms:?}"
        );
    }
    let perpetual = c
        .product(&pid("sql-server-2022-standard-perpetual"))
        .unwrap();
    let offer = perpetual
        .sku(&sid("2-core"))
        .unwrap()
        .offer(Term::Perpetual)
        .unwrap();
    assert_eq!(offer.billing_plans, vec![BillingPlan::OneTime]);
}

#[test]
fn every_offer_is_priced_in_usd_eur_aud_and_brl_in_minor_units() {
    let c = sample();
    let want = [Currency::USD, Currency::EUR, Currency::AUD, Currency::BRL];
    assert_eq!(c.currencies().iter().copied().collect::<Vec<_>>().len(), 4);
    for p in c.products() {
        for s in p.skus.values() {
            for o in s.terms.values() {
                for cur in want {
                    let m = o
                        .price(cur)
                        .unwrap_or_else(|| panic!("{} {} {cur}", p.id, s.id));
                    assert!(m.amount_minor > 0);
                }
            }
        }
    }
    let dc = c.product(&pid("windows-server-2022-datacenter")).unwrap();
    let p3y = dc
        .sku(&sid("16-core-p3y"))
        .unwrap()
        .offer(Term::P3Y)
        .unwrap();
    assert_eq!(p3y.price(Currency::USD).unwrap().amount_minor, 1_845_000);
}

#[test]
fn three_year_skus_offer_annual_or_triennial_and_the_rds_cal_monthly() {
    // Rule M3's data: checked here on the shipped catalog; the refusal is tested in ordering.
    let c = sample();
    for p in c.products() {
        for s in p.skus.values() {
            if let Some(o) = s.offer(Term::P3Y) {
                assert!(
                    o.offers(BillingPlan::Annual) && o.offers(BillingPlan::Triennial),
                    "{} {}",
                    p.id,
                    s.id
                );
            }
        }
    }
    let rds = c.product(&pid("windows-server-2022-rds-user-cal")).unwrap();
    for s in rds.skus.values() {
        assert!(
            s.terms.values().all(|o| o.offers(BillingPlan::Monthly)),
            "{}",
            s.id
        );
    }
    let ws = c.product(&pid("windows-server-2022-datacenter")).unwrap();
    let o = ws
        .sku(&sid("16-core-p3y"))
        .unwrap()
        .offer(Term::P3Y)
        .unwrap();
    assert!(!o.offers(BillingPlan::Monthly));
}

#[test]
fn product_facts_keys_downloads_links_and_cancellability() {
    let c = sample();
    let esu = c.product(&pid("esu-windows-server-2012")).unwrap();
    assert!(esu
        .installation_instructions
        .as_deref()
        .is_some_and(|l| l.starts_with("https://")));
    let esu_dl = &esu.sku(&sid("16-core-p1y")).unwrap().downloads;
    assert!(
        !esu_dl.versions.is_empty() && esu_dl.languages.is_empty() && esu_dl.file_types.is_empty()
    );
    for id in ["rhel-software-plan", "sles-software-plan"] {
        assert!(
            !c.product(&pid(id)).unwrap().cancellable,
            "{id} is never cancellable"
        );
    }
    let cal = c.product(&pid("windows-server-2022-user-cal")).unwrap();
    assert!(cal.license_only);
    assert!(cal.skus.values().all(|s| s.downloads.is_empty()));
    let sql = c.product(&pid("sql-server-2022-standard")).unwrap();
    let dl = &sql.sku(&sid("2-core-p1y")).unwrap().downloads;
    assert!(!dl.versions.is_empty() && !dl.languages.is_empty() && !dl.file_types.is_empty());
    assert!(c
        .products()
        .filter(|p| p.id != pid("rhel-software-plan") && p.id != pid("sles-software-plan"))
        .all(|p| p.cancellable));
}

#[test]
fn policy_version_one_is_the_source_texts_policy() {
    let c = sample();
    assert_eq!(c.policies().len(), 1);
    let p = c
        .policy_at(Timestamp::ymd_hms(2026, 1, 1, 0, 0, 0).unwrap())
        .unwrap();
    assert_eq!(p.version, 1);
    assert_eq!(
        p.cutover,
        Timestamp::ymd_hms(2021, 10, 14, 0, 0, 0).unwrap()
    );
    assert_eq!(p.window_hours(ProductKind::SoftwareSubscription), 168);
    assert_eq!(p.window_hours(ProductKind::PerpetualSoftware), 720);
    assert_eq!(p.window_hours(ProductKind::AzureReservation), 168);
    assert!(p.tax_inclusive(cc("AU")) && p.tax_inclusive(cc("BR")));
    assert!(!p.tax_inclusive(cc("US")) && !p.tax_inclusive(cc("DE")));
    assert!(c
        .policy_at(Timestamp::ymd_hms(2018, 12, 31, 23, 59, 59).unwrap())
        .is_none());
    assert_eq!(c.policy(1), Some(p));
}

/// Every name of the source text's list of markets without Azure Reservations, as written there.
const SEED_MARKETS: [&str; 109] = [
    "Aland Islands",
    "American Samoa",
    "Andorra",
    "Anguilla",
    "Antarctica",
    "Antigua and Barbuda",
    "Aruba",
    "Azerbaijan",
    "Benin",
    "Bhutan",
    "Bonaire",
    "Bouvet Island",
    "British Indian Ocean Territory",
    "British Virgin Islands",
    "Burkina Faso",
    "Burundi",
    "Cambodia",
    "Central African Republic",
    "Chad",
    "China",
    "Christmas Island",
    "Cocos (Keeling) Islands",
    "Comoros",
    "Congo",
    "Congo (DRC)",
    "Cook Islands",
    "Djibouti",
    "Dominica",
    "Equatorial Guinea",
    "Eritrea",
    "Falkland Islands",
    "French Guiana",
    "French Polynesia",
    "French Southern Territories",
    "Gabon",
    "Gambia",
    "Gibraltar",
    "Greenland",
    "Grenada",
    "Guadeloupe",
    "Guam",
    "Guernsey",
    "Guinea",
    "Guinea-Bissau",
    "Guyana",
    "Haiti",
    "Heard Island and McDonald Islands",
    "Isle of Man",
    "Jan Mayen",
    "Jersey",
    "Kiribati",
    "Kosovo",
    "Laos",
    "Lesotho",
    "Liberia",
    "Madagascar",
    "Malawi",
    "Maldives",
    "Mali",
    "Marshall Islands",
    "Martinique",
    "Mauritania",
    "Mayotte",
    "Micronesia",
    "Montserrat",
    "Mozambique",
    "Myanmar",
    "Nauru",
    "New Caledonia",
    "Niger",
    "Niue",
    "Norfolk Island",
    "Northern Mariana Islands",
    "Palau",
    "Papua New Guinea",
    "Pitcairn Islands",
    "Reunion",
    "Saba",
    "Saint Barthélemy",
    "Saint Lucia",
    "Saint Martin",
    "Saint Pierre and Miquelon",
    "Saint Vincent and the Grenadines",
    "Samoa",
    "San Marino",
    "São Tomé and Príncipe",
    "Seychelles",
    "Sierra Leone",
    "Sint Eustatius",
    "Sint Maarten",
    "Solomon Islands",
    "Somalia",
    "South Georgia and South Sandwich Islands",
    "South Sudan",
    "St Helena, Ascension, Tristan da Cunha",
    "Suriname",
    "Svalbard",
    "Swaziland",
    "Timor-Leste",
    "Togo",
    "Tokelau",
    "Tonga",
    "Turks and Caicos Islands",
    "Tuvalu",
    "U.S. Outlying Islands",
    "Vanuatu",
    "Vatican City",
    "Wallis and Futuna",
    "Yemen",
];

#[test]
fn the_reservation_market_list_is_the_whole_source_list_coded_as_m1_says() {
    let c = sample();
    let p = &c.policies()[0];
    let listed: Vec<&str> = p
        .reservations_unavailable
        .values()
        .flatten()
        .map(String::as_str)
        .collect();
    for name in SEED_MARKETS {
        assert_eq!(listed.iter().filter(|n| **n == name).count(), 1, "{name}");
    }
    assert_eq!(
        listed.len(),
        SEED_MARKETS.len(),
        "no name beyond the source's"
    );
    // 109 names, 106 codes: BQ has three names and SJ two, each code listed once.
    assert_eq!(p.reservations_unavailable.len(), 106);
    assert_eq!(
        p.reservations_unavailable[&cc("BQ")],
        ["Bonaire", "Saba", "Sint Eustatius"]
    );
    assert_eq!(
        p.reservations_unavailable[&cc("SJ")],
        ["Svalbard", "Jan Mayen"]
    );
    assert_eq!(p.reservations_unavailable[&cc("XK")], ["Kosovo"]);
    assert_eq!(p.reservations_unavailable[&cc("HT")], ["Haiti"]);
    assert!(!p.reservations_available_in(cc("CN")));
    assert!(p.reservations_available_in(cc("US")) && p.reservations_available_in(cc("AU")));
}

// ---------------------------------------------------------------------------------------------
// Bad files: each kind refused, naming file, entry and field
// ---------------------------------------------------------------------------------------------

#[test]
fn a_syntax_error_names_the_file_line_and_column() {
    let e = broken(
        "sql-server-2022.toml",
        "kind = \"perpetual_software\"",
        "kind = perpetual_software\"",
    );
    match &e {
        CatalogError::Syntax {
            file, line, column, ..
        } => {
            assert!(file.ends_with("sql-server-2022.toml"));
            assert!(*line > 1 && *column >= 1, "{e}");
        }
        other => panic!("expected a syntax error, got {other}"),
    }
}

#[test]
fn a_missing_field_is_named() {
    let e = broken(
        "sql-server-2022.toml",
        "kind = \"perpetual_software\"\n",
        "",
    );
    names(
        &e,
        "sql-server-2022.toml",
        "product \"sql-server-2022-standard-perpetual\"",
        "kind",
    );
    assert!(matches!(e.problem(), Some(Problem::Decode(m)) if m.contains("missing field")));
}

#[test]
fn an_unknown_field_is_named() {
    let e = broken(
        "linux-software-plans.toml",
        "license_only = true",
        "licence_only = true",
    );
    names(
        &e,
        "linux-software-plans.toml",
        "product \"rhel-software-plan\"",
        "licence_only",
    );
}

#[test]
fn a_price_of_the_wrong_type_is_named_down_to_the_currency() {
    let e = broken(
        "windows-server-2022.toml",
        "USD = 615000",
        "USD = \"6150.00\"",
    );
    names(
        &e,
        "windows-server-2022.toml",
        "product \"windows-server-2022-datacenter\"",
        "sku[0].term[0].prices.USD",
    );
}

#[test]
fn a_float_price_is_refused() {
    let e = broken("windows-server-2022.toml", "USD = 615000", "USD = 6150.00");
    names(
        &e,
        "windows-server-2022.toml",
        "product \"windows-server-2022-datacenter\"",
        "sku[0].term[0].prices.USD",
    );
}

#[test]
fn a_malformed_id_is_named() {
    let e = broken(
        "windows-server-2022.toml",
        "id = \"16-core-p3y\"",
        "id = \"16 Core P3Y\"",
    );
    names(
        &e,
        "windows-server-2022.toml",
        "product \"windows-server-2022-datacenter\"",
        "sku[1].id",
    );
}

#[test]
fn a_product_defined_in_two_files_is_refused_in_the_second() {
    let e = broken(
        "windows-server-2022.toml",
        "id = \"windows-server-2022-user-cal\"",
        "id = \"sql-server-2022-standard\"",
    );
    names(
        &e,
        "windows-server-2022.toml",
        "product \"sql-server-2022-standard\"",
        "id",
    );
    assert!(
        e.to_string().contains("sql-server-2022.toml"),
        "names the first file: {e}"
    );
}

#[test]
fn a_duplicate_sku_is_refused() {
    let e = broken(
        "windows-server-2022.toml",
        "id = \"16-core-p3y\"",
        "id = \"16-core-p1y\"",
    );
    names(
        &e,
        "windows-server-2022.toml",
        "product \"windows-server-2022-datacenter\"",
        "sku[1].id",
    );
    assert!(matches!(e.problem(), Some(Problem::Duplicate(..))));
}

#[test]
fn a_plan_that_cannot_bill_its_term_is_refused() {
    let e = broken(
        "sql-server-2022.toml",
        "term = \"P1Y\"\nbilling_plans = [\"annual\"]",
        "term = \"P1Y\"\nbilling_plans = [\"annual\", \"triennial\"]",
    );
    names(
        &e,
        "sql-server-2022.toml",
        "product \"sql-server-2022-standard\"",
        "sku[0].term[0].billing_plans[1]",
    );
    assert!(matches!(e.problem(), Some(Problem::PlanNotForTerm { .. })));
}

#[test]
fn an_unknown_billing_plan_is_refused() {
    let e = broken("sql-server-2022.toml", "[\"one_time\"]", "[\"weekly\"]");
    names(
        &e,
        "sql-server-2022.toml",
        "product \"sql-server-2022-standard-perpetual\"",
        "sku[0].term[0].billing_plans[0]",
    );
}

#[test]
fn no_billing_plan_at_all_is_refused() {
    let e = broken("sql-server-2022.toml", "[\"one_time\"]", "[]");
    names(
        &e,
        "sql-server-2022.toml",
        "product \"sql-server-2022-standard-perpetual\"",
        "sku[0].term[0].billing_plans",
    );
    assert!(matches!(e.problem(), Some(Problem::Empty)));
}

#[test]
fn a_term_the_kind_is_not_sold_for_is_refused() {
    let e = broken(
        "sql-server-2022.toml",
        "term = \"perpetual\"",
        "term = \"P1Y\"",
    );
    names(
        &e,
        "sql-server-2022.toml",
        "product \"sql-server-2022-standard-perpetual\"",
        "sku[0].term[0].term",
    );
    assert!(matches!(e.problem(), Some(Problem::TermNotForKind { .. })));
}

#[test]
fn a_missing_price_is_named_by_its_currency() {
    let e = broken("extended-security-updates.toml", ", BRL = ", ", XBRL = ");
    names(
        &e,
        "extended-security-updates.toml",
        "product \"esu-windows-server-2012\"",
        "sku[0].term[0].prices.XBRL",
    );
    assert!(matches!(e.problem(), Some(Problem::UnknownCurrency(c)) if c == "XBRL"));
    let e = broken("extended-security-updates.toml", "USD = 461000, ", "");
    names(
        &e,
        "extended-security-updates.toml",
        "product \"esu-windows-server-2012\"",
        "sku[0].term[0].prices.USD",
    );
    assert!(matches!(e.problem(), Some(Problem::MissingPrice(c)) if c == "USD"));
}

#[test]
fn a_price_in_a_currency_the_catalog_does_not_list_is_refused() {
    let e = broken(
        "extended-security-updates.toml",
        "USD = 461000, ",
        "USD = 461000, GBP = 370000, ",
    );
    names(
        &e,
        "extended-security-updates.toml",
        "product \"esu-windows-server-2012\"",
        "sku[0].term[0].prices.GBP",
    );
}

#[test]
fn a_price_that_is_not_above_zero_is_refused() {
    let e = broken(
        "extended-security-updates.toml",
        "USD = 461000",
        "USD = -461000",
    );
    names(
        &e,
        "extended-security-updates.toml",
        "product \"esu-windows-server-2012\"",
        "sku[0].term[0].prices.USD",
    );
    assert!(matches!(e.problem(), Some(Problem::NotPositive(-461000))));
}

#[test]
fn downloads_on_a_license_only_product_are_refused() {
    let e = broken(
        "azure-reservations.toml",
        "name = \"Reserved VM Instance, Dsv5 Series, D4s v5, US East\"\n",
        "name = \"Reserved VM Instance, Dsv5 Series, D4s v5, US East\"\ndownloads = { versions = [\"1\"] }\n",
    );
    names(
        &e,
        "azure-reservations.toml",
        "product \"azure-reserved-vm-instances\"",
        "sku[0].downloads",
    );
}

#[test]
fn an_installation_link_that_is_not_https_is_refused() {
    let e = broken(
        "extended-security-updates.toml",
        "\"https://learn",
        "\"http://learn",
    );
    names(
        &e,
        "extended-security-updates.toml",
        "product \"esu-windows-server-2012\"",
        "installation_instructions",
    );
}

#[test]
fn an_entry_without_a_usable_id_is_named_by_position() {
    let e = broken(
        "linux-software-plans.toml",
        "id = \"sles-software-plan\"\n",
        "",
    );
    names(&e, "linux-software-plans.toml", "product[1]", "id");
}

#[test]
fn a_country_that_is_not_an_alpha_2_code_is_refused() {
    let e = broken("policy.toml", "code = \"XK\"", "code = \"Kosovo\"");
    let field = e.field().unwrap_or_default().to_string();
    assert!(
        field.starts_with("reservations_unavailable[") && field.ends_with("].code"),
        "{e}"
    );
    names(&e, "policy.toml", "policy version 1", &field);
}

#[test]
fn a_market_code_listed_twice_is_refused() {
    let e = broken("policy.toml", "code = \"SJ\"", "code = \"BQ\"");
    assert!(
        matches!(e.problem(), Some(Problem::Duplicate(c, _)) if c == "BQ"),
        "{e}"
    );
    assert_eq!(e.entry(), Some("policy version 1"));
}

#[test]
fn a_zero_window_is_refused() {
    let e = broken(
        "policy.toml",
        "perpetual_software = 720",
        "perpetual_software = 0",
    );
    names(
        &e,
        "policy.toml",
        "policy version 1",
        "cancellation_window_hours.perpetual_software",
    );
}

#[test]
fn a_date_without_an_offset_is_refused() {
    let e = broken(
        "policy.toml",
        "cutover = 2021-10-14T00:00:00Z",
        "cutover = 2021-10-14T00:00:00",
    );
    names(&e, "policy.toml", "policy version 1", "cutover");
}

#[test]
fn policy_versions_must_rise_with_their_dates() {
    let (mut policy, products) = sample_files();
    let first = policy
        .text
        .split("\n[[policy]]\n")
        .nth(1)
        .unwrap()
        .to_string();
    let second = first.replace("version = 1", "version = 2").replace(
        "effective_from = 2019-01-01T00:00:00Z",
        "effective_from = 2018-01-01T00:00:00Z",
    );
    policy.text.push_str(&format!("\n[[policy]]\n{second}"));
    let e = Catalog::from_files(&policy, &products).unwrap_err();
    names(&e, "policy.toml", "policy version 2", "effective_from");
    assert!(matches!(e.problem(), Some(Problem::OutOfOrder(_))));
}

#[test]
fn a_later_policy_version_applies_from_its_date() {
    let (mut policy, products) = sample_files();
    let first = policy
        .text
        .split("\n[[policy]]\n")
        .nth(1)
        .unwrap()
        .to_string();
    let second = first
        .replace("version = 1", "version = 2")
        .replace(
            "effective_from = 2019-01-01T00:00:00Z",
            "effective_from = 2027-01-01T00:00:00Z",
        )
        .replace("software_subscription = 168", "software_subscription = 72");
    policy.text.push_str(&format!("\n[[policy]]\n{second}"));
    let c = Catalog::from_files(&policy, &products).unwrap();
    let before = c
        .policy_at(Timestamp::ymd_hms(2026, 12, 31, 23, 59, 59).unwrap())
        .unwrap();
    let after = c
        .policy_at(Timestamp::ymd_hms(2027, 1, 1, 0, 0, 0).unwrap())
        .unwrap();
    assert_eq!(
        (
            before.version,
            before.window_hours(ProductKind::SoftwareSubscription)
        ),
        (1, 168)
    );
    assert_eq!(
        (
            after.version,
            after.window_hours(ProductKind::SoftwareSubscription)
        ),
        (2, 72)
    );
}

#[test]
fn an_unknown_top_level_key_is_refused() {
    let e = broken("policy.toml", "currencies = [", "currency = [");
    names(&e, "policy.toml", "(top level)", "currency");
    let e = broken(
        "sql-server-2022.toml",
        "[[product]]\nid = \"sql-server-2022-standard\"",
        "owner = \"ops\"\n\n[[product]]\nid = \"sql-server-2022-standard\"",
    );
    names(&e, "sql-server-2022.toml", "(top level)", "owner");
}

#[test]
fn a_currency_the_contract_does_not_know_is_refused() {
    let e = broken("policy.toml", "\"BRL\"]", "\"BRX\"]");
    names(&e, "policy.toml", "(top level)", "currencies[3]");
}

#[test]
fn missing_files_are_named() {
    let dir = std::env::temp_dir().join(format!("csp-catalog-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("products")).unwrap();
    let e = Catalog::load(&dir).unwrap_err();
    assert!(
        matches!(&e, CatalogError::MissingFile { file, .. } if file.ends_with("policy.toml")),
        "{e}"
    );
    std::fs::copy(
        csp_catalog::sample_dir().join("policy.toml"),
        dir.join("policy.toml"),
    )
    .unwrap();
    let e = Catalog::load(&dir).unwrap_err();
    assert!(
        matches!(&e, CatalogError::MissingFile { file, .. } if file.ends_with("products")),
        "{e}"
    );
    std::fs::write(
        dir.join("products").join("bad.toml"),
        "[[product]]\nid = 1\n",
    )
    .unwrap();
    let e = Catalog::load(&dir).unwrap_err();
    assert!(e.file().ends_with(Path::new("products/bad.toml")), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn k4_the_catalog_lists_the_generic_kms_client_keys_and_refuses_a_malformed_one() {
    let c = sample();
    let gvlk = csp_catalog::normalise_key("wx4nm-kywyw-qjjr4-xv3qb-6vm33").unwrap();
    assert!(c.is_kms_client_key(&gvlk), "case and dashes do not matter");
    let mak = csp_catalog::normalise_key("BCDFG-HJKMP-QRTVW-XY234-67896").unwrap();
    assert!(!c.is_kms_client_key(&mak));
    let e = broken(
        "policy.toml",
        "VDYBN-27WPP-V4HQT-9VMD4-VMK7H",
        "VDYBN-27WPP-V4HQT-9VMD4",
    );
    names(&e, "policy.toml", "(top level)", "kms_client_keys[1].key");
}
