//! Damaged workbooks (flipped bytes, cut short) give an error or users, never a panic.

use hardmatch::sources::{read_ad_export, ReadOptions};
use proptest::prelude::*;
use rust_xlsxwriter::Workbook;

fn valid_workbook() -> Vec<u8> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["UserPrincipalName", "objectGUID", "mail"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *h).expect("write");
    }
    for r in 1..20u32 {
        ws.write_string(r, 0, format!("u{r}@contoso.com"))
            .expect("write");
        ws.write_string(r, 1, "e0c12033-f50b-42c8-8ccb-deb866e9b12a")
            .expect("write");
        ws.write_number(r, 2, f64::from(r)).expect("write");
    }
    wb.save_to_buffer().expect("xlsx")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn damaged_workbooks_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        do_cut in any::<bool>(),
    ) {
        let mut bytes = valid_workbook();
        for (at, b) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= b | 1;
        }
        if do_cut {
            let n = cut.index(bytes.len());
            bytes.truncate(n.max(4));
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("damaged.xlsx");
        std::fs::write(&path, &bytes).expect("write");
        let _ = read_ad_export(&path, &ReadOptions::default());
    }
}
