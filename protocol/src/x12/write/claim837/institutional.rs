//! Loop 2300 onward of an 837I: CLM with the facility code, statement and admission dates,
//! CL1, REF, HI (principal then other diagnoses), attending and referring providers
//! (2310A/F), other payers (2320/2330), and service lines (2400 SV2, 2430).

use super::{cob, line_control_number, procedure_composite};
use crate::domain::Claim;
use crate::x12::write::parties;
use crate::x12::write::X12Writer;

pub(super) fn write_claim(writer: &mut X12Writer, claim: &Claim) {
    // `Claim::validate` requires institutional data on an institutional claim.
    let Some(facility) = &claim.institutional else { return };
    let total = claim.total_charge().amount;
    writer
        .begin("CLM")
        .el(&claim.patient_control_number)
        .amount(total)
        .skip(2)
        .comp(&[facility.facility_type.as_str(), "A", claim.frequency.x12_code()])
        .el("")
        .el("A")
        .el("Y")
        .el("Y")
        .end();
    let range = format!("{}-{}", facility.statement_from.format("%Y%m%d"), facility.statement_to.format("%Y%m%d"));
    writer.begin("DTP").el("434").el("RD8").el(&range).end();
    if let Some(admission) = facility.admission_date {
        writer.begin("DTP").el("435").el("D8").date(admission).end();
    }
    writer.begin("CL1").el(&facility.admission_type).el(&facility.admission_source).el(&facility.patient_status).end();
    super::claim_references(writer, claim);
    if let Some((principal, others)) = claim.diagnoses.split_first() {
        writer.begin("HI").comp(&["ABK", principal.as_str()]).end();
        if !others.is_empty() {
            writer.begin("HI");
            for diagnosis in others.iter().take(12) {
                writer.comp(&["ABF", diagnosis.as_str()]);
            }
            writer.end();
        }
    }
    // 2310A attending provider: the rendering clinician.
    parties::person(writer, "71", &claim.rendering.name, "XX", claim.rendering.npi.as_str());
    parties::taxonomy(writer, "AT", claim.rendering.taxonomy.as_deref());
    // 2310F referring provider.
    if let Some(referring) = &claim.referring {
        parties::person(writer, "DN", &referring.name, "XX", referring.npi.as_str());
    }
    cob::other_payers(writer, claim);
    for line in &claim.lines {
        let line_number = line.line_number.to_string();
        writer.begin("LX").el(&line_number).end();
        writer
            .begin("SV2")
            .opt(line.revenue_code.as_deref())
            .comp(&procedure_composite(line))
            .amount(line.charge.amount)
            .el("UN")
            .amount(line.units)
            .end();
        writer.begin("DTP").el("472").el("D8").date(line.service_date).end();
        let control = line_control_number(line);
        writer.begin("REF").el("6R").el(&control).end();
        cob::line_adjudications(writer, claim, line, true);
    }
}
