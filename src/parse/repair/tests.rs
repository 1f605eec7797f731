use super::*;

fn repaired(text: &str, format: Format) -> String {
    repair(text, format).text.into_owned()
}

#[test]
fn documents_without_anything_to_repair_are_borrowed() {
    let rss = "<rss><channel><item><title>Plain &amp; simple</title>\
               <description><![CDATA[<p>quoted <b>markup</b></p>]]></description></item></channel></rss>";
    let result = repair(rss, Format::Rss);
    assert!(matches!(result.text, Cow::Borrowed(_)));
    assert_eq!(result.entries, 1);
}
