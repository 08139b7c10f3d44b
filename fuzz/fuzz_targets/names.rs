//! Repository names, tags, digests, references and image references: what
//! one parses, printed, parses again to the same value.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shipcore::model::{validate_repository, validate_tag, ImageRef};
use shipcore::registry::names::{check_tag, Digest, Reference, Repository};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(r) = Repository::parse(s) {
        assert_eq!(Repository::parse(&r.to_string()).ok(), Some(r));
    }
    let _ = check_tag(s);
    if let Ok(d) = Digest::parse(s) {
        assert_eq!(Digest::parse(&d.to_string()).ok(), Some(d));
        assert_eq!(Digest::from_key(&d.key()).ok(), Some(d));
    }
    let _ = Digest::from_key(s);
    let _ = Reference::parse(s);
    if let Ok(i) = ImageRef::parse(s) {
        let again = ImageRef::parse(&i.to_string());
        assert_eq!(again.as_ref().ok(), Some(&i), "{s:?} printed {i}");
    }
    let _ = validate_repository(s);
    let _ = validate_tag(s);
});
