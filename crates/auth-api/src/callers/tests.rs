//! The callers' keys: how each is identified, and which settings stop start-up.

use super::*;

const USERS: &str = "users-key-0123456789abcdef0123456789";
const TASKS: &str = "tasks-key-0123456789abcdef0123456789";

#[test]
fn each_key_names_its_caller_and_a_previous_key_still_does() {
    let settings = CallerSettings {
        users_api_key_previous: Some(format!("{USERS}-old")),
        ..CallerSettings::with_keys(USERS, TASKS)
    };
    let callers = settings.callers().unwrap();
    assert_eq!(callers.identify(USERS), Some(Caller::UsersApi));
    assert_eq!(
        callers.identify(&format!("{USERS}-old")),
        Some(Caller::UsersApi)
    );
    assert_eq!(callers.identify(TASKS), Some(Caller::TasksApi));
    for unknown in [
        "",
        "users-key",
        &USERS[..USERS.len() - 1],
        &format!("{USERS}x"),
    ] {
        assert_eq!(callers.identify(unknown), None, "{unknown:?}");
    }
    assert_eq!(callers.names(), ["users-api", "tasks-api"]);
}

#[test]
fn a_caller_without_a_key_does_not_exist() {
    let settings = CallerSettings {
        users_api_key: Some(USERS.into()),
        tasks_api_key: Some("  ".into()),
        ..CallerSettings::default()
    };
    let callers = settings.callers().unwrap();
    assert_eq!(callers.names(), ["users-api"]);
    assert_eq!(callers.identify("  "), None);
    assert_eq!(Callers::none().identify(""), None);
}

#[test]
fn unusable_settings_stop_start_up_without_echoing_a_key() {
    let refused = [
        (CallerSettings::default(), CallerKeyError::NoCaller),
        (
            CallerSettings {
                tasks_api_key_previous: Some(TASKS.into()),
                ..CallerSettings::default()
            },
            CallerKeyError::PreviousWithoutCurrent {
                previous: "TASKS_API_KEY_PREVIOUS",
                current: "TASKS_API_KEY",
            },
        ),
        (
            CallerSettings::with_keys(USERS, USERS),
            CallerKeyError::Shared("USERS_API_KEY", "TASKS_API_KEY"),
        ),
        (
            CallerSettings {
                users_api_key_previous: Some(TASKS.into()),
                ..CallerSettings::with_keys(USERS, TASKS)
            },
            CallerKeyError::Shared("USERS_API_KEY_PREVIOUS", "TASKS_API_KEY"),
        ),
        (
            CallerSettings::with_keys("short-secret", TASKS),
            ApiKeyError::TooShort {
                var: "USERS_API_KEY",
                bytes: 12,
            }
            .into(),
        ),
    ];
    for (settings, expected) in refused {
        let error = settings.callers().err().unwrap();
        assert_eq!(error, expected);
        let line = error.to_string();
        assert!(
            !line.contains(USERS) && !line.contains(TASKS) && !line.contains("short-secret"),
            "{line}"
        );
    }
}
