//! The dashboard's HTML, rendered on the server from API views. Pure functions from data to
//! text; every value goes through `escape`. Patient names are not shown: the board names a
//! claim by its patient control number.

use crate::api::reports::Bucket;
use crate::api::views::{ClaimView, DenialView, PaymentView, TimelineEntry};
use practice_protocol::claim::ClaimStatus;
use std::fmt::Write;

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

pub const NAV: &[(&str, &str)] = &[
    ("/dashboard", "Claims"),
    ("/dashboard/aging", "AR aging"),
    ("/dashboard/denials", "Denials"),
    ("/dashboard/payments", "Payments"),
    ("/dashboard/modules/reimburse", "ReimburseOS"),
    ("/dashboard/modules/sentry", "Sentry"),
    ("/dashboard/modules/denial", "Denial"),
    ("/dashboard/modules/reclaim", "Reclaim"),
    ("/dashboard/modules/leverage", "Leverage"),
];

pub fn layout(title: &str, here: &str, body: &str) -> String {
    let mut nav = String::new();
    for (href, label) in NAV {
        let class = if *href == here { " class=\"here\"" } else { "" };
        let _ = write!(nav, "<a href=\"{href}\"{class}>{label}</a>");
    }
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · Practice OS</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <link rel=\"stylesheet\" href=\"/dashboard/assets/app.css\"></head><body>\
         <header><h1>Practice OS</h1><nav>{nav}</nav><span id=\"live\" class=\"off\">connecting</span></header>\
         <main>{body}</main><script src=\"/dashboard/assets/app.js\"></script></body></html>",
        title = escape(title)
    )
}

pub fn pill(text: &str) -> String {
    let text = escape(text);
    format!("<span class=\"pill pill-{text}\">{text}</span>")
}

pub fn age_badge(days: i64) -> String {
    let bucket = crate::api::reports::bucket_of(days);
    format!("<span class=\"age age-{bucket}\" title=\"days since created\">{days}d</span>")
}

fn card(claim: &ClaimView, control_number: &str) -> String {
    format!(
        "<a class=\"card\" href=\"/dashboard/claims/{id}\" data-claim-id=\"{id}\" data-status=\"{status}\">\
         {pill}{age}<div>{control}</div><div class=\"meta\">{payer} · {charge} · open {open}</div></a>",
        id = claim.id,
        status = claim.status.as_str(),
        pill = pill(claim.pill),
        age = age_badge(claim.age_days),
        control = escape(control_number),
        payer = escape(claim.payer_id.as_deref().unwrap_or("no payer")),
        charge = claim.money.charge,
        open = claim.money.open_balance.amount,
    )
}

/// The claims board: one column per status.
pub fn board(claims: &[(ClaimView, String)]) -> String {
    let mut body = String::from("<div class=\"board\">");
    for status in ClaimStatus::ALL {
        let _ = write!(
            body,
            "<section class=\"column\" data-column=\"{0}\"><h2>{0}</h2><div class=\"cards\">",
            status.as_str()
        );
        for (claim, control) in claims.iter().filter(|(claim, _)| claim.status == status) {
            body.push_str(&card(claim, control));
        }
        body.push_str("</div></section>");
    }
    body.push_str("</div>");
    layout("Claims", "/dashboard", &body)
}

pub fn claim_page(claim: &ClaimView, control_number: &str, timeline: &[TimelineEntry]) -> String {
    let money = &claim.money;
    let mut body = format!(
        "<h2 data-claim-id=\"{id}\" data-status=\"{status}\">Claim {control} {pill}{age}</h2>\
         <div class=\"summary\" data-summary=\"{id}\"><div>Charge<b data-money=\"charge\">{charge}</b></div>\
         <div>Paid<b data-money=\"paid\">{paid}</b></div>\
         <div>Contractual<b data-money=\"contractual\">{contractual}</b></div>\
         <div>Patient resp.<b data-money=\"patient_responsibility\">{pr}</b></div>\
         <div>Written off<b data-money=\"written_off\">{wo}</b></div>\
         <div>Open<b data-money=\"open_balance\">{open}</b></div><div>Payer<b>{payer}</b></div></div>",
        id = claim.id,
        status = claim.status.as_str(),
        control = escape(control_number),
        pill = pill(claim.pill),
        age = age_badge(claim.age_days),
        charge = money.charge,
        paid = money.paid,
        contractual = money.contractual,
        pr = money.patient_responsibility,
        wo = money.written_off,
        open = money.open_balance,
        payer = escape(claim.payer_id.as_deref().unwrap_or("")),
    );
    let _ = write!(
        body,
        "<h3>Timeline</h3><table data-timeline=\"{}\"><thead><tr><th>#</th><th>Event</th><th>When (UTC)</th><th>Who</th></tr></thead><tbody>",
        claim.id
    );
    for entry in timeline {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            entry.sequence,
            entry.event,
            entry.at.format("%Y-%m-%d %H:%M:%S"),
            escape(&entry.by)
        );
    }
    body.push_str("</tbody></table>");
    if !claim.denials.is_empty() {
        body.push_str("<h3>Denials</h3>");
        body.push_str(&denial_table(&claim.denials));
    }
    layout("Claim", "/dashboard", &body)
}

pub fn aging_page(buckets: &[Bucket]) -> String {
    let mut body = String::from("<h2>Accounts receivable aging</h2><table><thead><tr><th>Days</th><th class=\"num\">Claims</th><th class=\"num\">Open balance</th></tr></thead><tbody>");
    for bucket in buckets {
        let _ = write!(
            body,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            bucket.bucket, bucket.claims, bucket.open_balance
        );
    }
    body.push_str("</tbody></table>");
    layout("AR aging", "/dashboard/aging", &body)
}

fn denial_table(denials: &[DenialView]) -> String {
    let mut body = String::from("<table><thead><tr><th>Claim</th><th>Code</th><th>CARC</th><th>Reason</th><th>Category</th><th>Root cause</th><th>Appeal deadline</th><th class=\"num\">Days left</th><th>Appeal</th></tr></thead><tbody>");
    for denial in denials {
        let _ = write!(
            body,
            "<tr data-claim-id=\"{id}\"><td><a href=\"/dashboard/claims/{id}\">{short}</a></td><td>{code}</td><td>{carc}</td><td>{reason}</td><td>{category:?}</td><td>{root}</td><td>{deadline}</td><td class=\"num\">{days}</td><td>{appeal:?}</td></tr>",
            id = denial.claim_id,
            short = &denial.claim_id.to_string()[..8],
            code = escape(&denial.code),
            carc = escape(&denial.carc),
            reason = escape(&denial.reason),
            category = denial.category,
            root = denial.root_cause.map(|cause| format!("{cause:?}")).unwrap_or_default(),
            deadline = denial.appeal_deadline.map(|at| at.format("%Y-%m-%d").to_string()).unwrap_or_default(),
            days = denial.days_to_deadline.map(|days| days.to_string()).unwrap_or_default(),
            appeal = denial.appeal_status,
        );
    }
    body.push_str("</tbody></table>");
    body
}

pub fn denials_page(denials: &[DenialView]) -> String {
    layout("Denials", "/dashboard/denials", &format!("<h2>Denials</h2>{}", denial_table(denials)))
}

pub fn payments_page(payments: &[PaymentView], suspense: &[(String, String)]) -> String {
    let mut body = String::from("<h2>Payments</h2><table><thead><tr><th>Posted</th><th>Claim</th><th>Payer</th><th>Method</th><th>Reference</th><th class=\"num\">Paid</th><th>By</th></tr></thead><tbody>");
    for payment in payments {
        let _ = write!(
            body,
            "<tr><td>{}</td><td><a href=\"/dashboard/claims/{}\">{}</a></td><td>{}</td><td>{:?}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            payment.posted_at.format("%Y-%m-%d %H:%M"),
            payment.claim_id,
            &payment.claim_id.to_string()[..8],
            escape(&payment.payer_name),
            payment.method,
            escape(payment.era_trace_number.as_deref().unwrap_or("")),
            payment.paid,
            escape(&payment.posted_by),
        );
    }
    body.push_str("</tbody></table><h2>Suspense</h2><p>Payer money that no claim line took (unallocated).</p><table><thead><tr><th>Claim</th><th class=\"num\">Unallocated</th></tr></thead><tbody>");
    for (claim, amount) in suspense {
        let _ = write!(body, "<tr><td>{}</td><td class=\"num\">{}</td></tr>", escape(claim), escape(amount));
    }
    body.push_str("</tbody></table>");
    layout("Payments", "/dashboard/payments", &body)
}

/// The five modules' pages, reserved until each lands.
pub const MODULES: &[(&str, &str, &str)] = &[
    ("reimburse", "ReimburseOS", "Contracted and realized rates per payer × plan × code × NPI × state from the Transparency-in-Coverage and hospital price files, and the expected revenue of every claim line."),
    ("sentry", "Sentry OS", "Pre-submission edits (NCCI procedure-to-procedure, MUE, payer rules, coverage policy) that block or warn, and each line's probability of denial from this practice's own history."),
    ("denial", "Denial OS", "Every denial triaged to category and root cause, appeal deadlines with escalations, and the appeal packets written from the payer's playbook."),
    ("reclaim", "Reclaim OS", "Payments below contract flagged per line (default over $5), and recovery batches filed on each payer's cadence."),
    ("leverage", "Leverage OS", "Twelve months of underpayment and denial patterns by payer × code × geography against peer rates: the renegotiation memo."),
];

pub fn module_page(slug: &str) -> Option<String> {
    let (_, name, what) = MODULES.iter().find(|(candidate, _, _)| *candidate == slug)?;
    let body = format!(
        "<div class=\"reserved\"><h2>{name}</h2><p>Reserved: this page fills in when the {name} module lands.</p><p>What will appear here: {what}</p></div>"
    );
    Some(layout(name, &format!("/dashboard/modules/{slug}"), &body))
}

pub fn login_page(message: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in · Practice OS</title>\
         <link rel=\"stylesheet\" href=\"/dashboard/assets/app.css\"></head><body><div class=\"login\">\
         <h2>Practice OS</h2><p>{}</p><form method=\"get\" action=\"/dashboard\">\
         <label>Token (from <code>practice token issue</code>)<textarea name=\"token\"></textarea></label>\
         <p><button type=\"submit\">Open the dashboard</button></p></form></div></body></html>",
        escape(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }

    #[test]
    fn every_module_page_is_reserved_and_named() {
        for (slug, name, _) in MODULES {
            let page = module_page(slug).unwrap();
            assert!(page.contains(name) && page.contains("Reserved"), "{slug}");
        }
        assert!(module_page("nope").is_none());
    }
}
