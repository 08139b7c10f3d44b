//! The core's request bodies as the API families receive them (JSON):
//! deploys, engines, accounts, volumes, compose projects, registry rules
//! and notification endpoints, each read and then checked as its service
//! checks it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shipcore::compose::{parse_with, Extras, ParseOptions};
use shipcore::model::{Account, EngineRecord, ImageConfig, Project, Volume};
use shipcore::projects::{NewProject, NewVolume};
use shipcore::registry::notify::Endpoint;
use shipcore::registry::policy::Rules;

fn read<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<T> {
    serde_json::from_slice(body).ok()
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    match selector % 9 {
        0 => {
            if let Some(c) = read::<ImageConfig>(body) {
                if c.validate().is_ok() {
                    let _ = c.image();
                }
            }
        }
        1 => {
            let _ = read::<EngineRecord>(body).map(|e| e.validate());
        }
        2 => {
            let _ = read::<Account>(body).map(|a| a.validate());
        }
        3 => {
            let _ = read::<Volume>(body).map(|v| v.validate());
        }
        4 => {
            let _ =
                read::<NewVolume>(body).map(|v| shipcore::model::validate_name("name", &v.name));
        }
        5 => {
            if let Some(p) = read::<NewProject>(body) {
                if let Ok(extras) = Extras::checked(&p.files, &p.profiles) {
                    let _ = parse_with(
                        &p.template,
                        &p.environment,
                        &ParseOptions { allow_binds: false },
                        &extras,
                    );
                }
            }
        }
        6 => {
            let _ = read::<Rules>(body).map(|r| r.validate());
        }
        7 => {
            let _ = read::<Endpoint>(body).map(|e| e.validate());
        }
        _ => {
            let _ = read::<Project>(body).map(|p| p.validate());
        }
    }
});
