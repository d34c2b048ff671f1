//! How the simulated clearinghouse reads a batch it rejects at the front end. Only syntax
//! faults reach a 999 (REALISM.md: "only inject syntax faults", since our writer's 837s are
//! clean), so the simulator spoils its own copy of the group and acknowledges what it then
//! reads: the 999 names the segment and element in error (IK3/IK4), as a real one would,
//! found by the same readers that check every file.

use practice_protocol::x12::write::{acknowledge, ReceivedGroup};

/// Group `group_control` of the 837 interchange `received`, acknowledged after the fault the
/// simulator injects: the first service line's date in the group (DTP03 of `DTP*472`) made
/// the thirteenth month. `None` when the group has no service date to spoil, or the readers
/// found nothing wrong after all: its 999 then says only "segments in error".
pub fn rejected_group(received: &[u8], group_control: u32) -> Option<ReceivedGroup> {
    let spoiled = spoil_first_service_date(received, group_control)?;
    acknowledge(&spoiled).ok()?.into_iter().find(|group| {
        group.control_number == group_control && group.sets.iter().any(|set| !set.segment_errors.is_empty())
    })
}

/// `received` with the month of the first `DTP*472` date inside group `group_control` set to
/// 13; the file keeps its length and segment count.
fn spoil_first_service_date(received: &[u8], group_control: u32) -> Option<Vec<u8>> {
    // ISA is fixed-width: the element separator is its 4th byte, the segment terminator follows
    // ISA16 at byte 106.
    let (element, terminator) = (*received.get(3)?, *received.get(105)?);
    let mut in_group = false;
    let mut start = 0;
    while start < received.len() {
        let end = received[start..].iter().position(|byte| *byte == terminator).map_or(received.len(), |at| start + at);
        let lead = received[start..end].iter().take_while(|byte| byte.is_ascii_whitespace()).count();
        let segment = &received[start + lead..end];
        let fields: Vec<&[u8]> = segment.split(|byte| *byte == element).collect();
        match fields.as_slice() {
            [b"GS", rest @ ..] => {
                let control = rest.get(5).and_then(|value| std::str::from_utf8(value).ok());
                in_group = control.and_then(|value| value.trim().parse::<u32>().ok()) == Some(group_control);
            }
            [b"DTP", b"472", qualifier, date, ..] if in_group && date.len() >= 8 => {
                // "DTP", "472" and the qualifier, each with the separator after it.
                let at = start + lead + 3 + 1 + 3 + 1 + qualifier.len() + 1 + 4;
                let mut spoiled = received.to_vec();
                spoiled[at..at + 2].copy_from_slice(b"13");
                return Some(spoiled);
            }
            _ => {}
        }
        start = end + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_named_groups_first_service_date_is_spoiled() {
        let file = b"ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *260302*1200*^*00501*000000001*0*P*:~\n\
GS*HC*S*R*20260302*1200*7*X*005010X222A1~ST*837*0001~DTP*472*D8*20260105~SE*3*0001~GE*1*7~\n\
GS*HC*S*R*20260302*1200*8*X*005010X222A1~ST*837*0001~DTP*472*RD8*20260105-20260106~DTP*472*D8*20260107~SE*4*0001~GE*1*8~IEA*2*000000001~";
        let spoiled = spoil_first_service_date(file, 8).unwrap();
        let text = String::from_utf8(spoiled).unwrap();
        assert!(text.contains("DTP*472*D8*20260105~"), "group 7 was changed: {text}");
        assert!(text.contains("DTP*472*RD8*20261305-20260106~"), "{text}");
        assert!(text.contains("DTP*472*D8*20260107~"), "a second date was changed: {text}");
        assert_eq!(text.len(), file.len());
        assert!(spoil_first_service_date(file, 9).is_none(), "no group 9");
    }
}
