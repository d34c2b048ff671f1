//! Loop 2300 onward of an 837P: CLM, REF, HI, referring and rendering providers (2310A/B),
//! other payers (2320/2330), and service lines (2400 SV1, 2430).

use super::{cob, line_control_number, procedure_composite};
use crate::domain::Claim;
use crate::x12::write::parties;
use crate::x12::write::X12Writer;

pub(super) fn write_claim(writer: &mut X12Writer, claim: &Claim) {
    let total = claim.total_charge().amount;
    writer
        .begin("CLM")
        .el(&claim.patient_control_number)
        .amount(total)
        .skip(2)
        .comp(&[claim.place_of_service.as_str(), "B", claim.frequency.x12_code()])
        .el("Y")
        .el("A")
        .el("Y")
        .el("Y")
        .end();
    super::claim_references(writer, claim);
    diagnoses(writer, claim);
    if let Some(referring) = &claim.referring {
        parties::person(writer, "DN", &referring.name, "XX", referring.npi.as_str());
    }
    // 2310B: only when the rendering provider is not the billing provider.
    if claim.rendering.npi != claim.billing.npi {
        parties::person(writer, "82", &claim.rendering.name, "XX", claim.rendering.npi.as_str());
        parties::taxonomy(writer, "PE", claim.rendering.taxonomy.as_deref());
    }
    cob::other_payers(writer, claim);
    for line in &claim.lines {
        let line_number = line.line_number.to_string();
        writer.begin("LX").el(&line_number).end();
        let pointers: Vec<String> = line.diagnosis_pointers.iter().map(|pointer| pointer.to_string()).collect();
        let pointers: Vec<&str> = pointers.iter().map(String::as_str).collect();
        // SV105 only when the line's place of service differs from the claim's.
        let place = line.place_of_service.as_ref().filter(|place| **place != claim.place_of_service);
        writer
            .begin("SV1")
            .comp(&procedure_composite(line))
            .amount(line.charge.amount)
            .el("UN")
            .amount(line.units)
            .opt(place.map(|place| place.as_str()))
            .el("")
            .comp(&pointers)
            .end();
        writer.begin("DTP").el("472").el("D8").date(line.service_date).end();
        let control = line_control_number(line);
        writer.begin("REF").el("6R").el(&control).end();
        cob::line_adjudications(writer, claim, line, false);
    }
}

/// HI: the principal diagnosis (ABK) then the others (ABF), twelve in one segment.
fn diagnoses(writer: &mut X12Writer, claim: &Claim) {
    writer.begin("HI");
    for (index, diagnosis) in claim.diagnoses.iter().take(12).enumerate() {
        writer.comp(&[if index == 0 { "ABK" } else { "ABF" }, diagnosis.as_str()]);
    }
    writer.end();
}
