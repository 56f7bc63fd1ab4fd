//! The role `DATABASE_URL` names, checked at start-up: each service should connect as a role
//! that owns its own schema and nothing else (docs/operations.md, "Roles").
//!
//! - Refused: a schema owned by another role. Its tables would not be this role's to use, or
//!   (a superuser migrating another role's schema) new tables would be locked away from it.
//! - Warned: a superuser, a role that may create roles (it could grant itself another
//!   service's role) or one that can use other schemas. They work, and dev-stack and the tests
//!   connect as a superuser, but a compromised service could read or change another's data.

use sqlx::PgPool;

/// SQLSTATE 42501, `insufficient_privilege`.
pub(crate) fn is_refused(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|error| error.code())
        .is_some_and(|code| code == "42501")
}

/// Who we are, what `schema` belongs to, and what else we can reach.
const ROLE: &str = "\
    SELECT current_user::text, r.rolsuper, r.rolcreaterole, \
           (SELECT pg_get_userbyid(nspowner)::text FROM pg_namespace WHERE nspname = $1), \
           ARRAY(SELECT nspname::text FROM pg_namespace \
                 WHERE nspname <> $1 AND nspname <> 'public' \
                   AND nspname <> 'information_schema' AND nspname NOT LIKE 'pg\\_%' \
                   AND has_schema_privilege(current_user, oid, 'USAGE') \
                 ORDER BY nspname) \
    FROM pg_roles r WHERE r.rolname = current_user";

type Row = (String, bool, bool, Option<String>, Vec<String>);

/// The role's name, and either its warnings or why it may not have `schema`.
pub(crate) async fn check(
    pool: &PgPool,
    schema: &str,
) -> Result<(String, Result<Vec<String>, String>), sqlx::Error> {
    let (role, superuser, create_role, owner, others): Row =
        sqlx::query_as(ROLE).bind(schema).fetch_one(pool).await?;
    let verdict = verdict(&role, schema, superuser, create_role, owner, &others);
    Ok((role, verdict))
}

fn verdict(
    role: &str,
    schema: &str,
    superuser: bool,
    create_role: bool,
    owner: Option<String>,
    others: &[String],
) -> Result<Vec<String>, String> {
    match owner {
        Some(owner) if owner != role => {
            return Err(format!(
                "schema {schema} is owned by role {owner}: connect as {owner}, or hand it over \
                 with the database's role script (docs/operations.md)"
            ));
        }
        _ => {}
    }
    let advice = "give each service a role that owns only its own schema (docs/operations.md)";
    let mut warnings = Vec::new();
    if superuser {
        warnings.push(format!(
            "role {role} is a superuser: a compromised service could read and change every \
             schema and run programs on the database server; {advice}"
        ));
        return Ok(warnings);
    }
    if create_role {
        warnings.push(format!(
            "role {role} may create roles, and so grant itself another service's; {advice}"
        ));
    }
    if !others.is_empty() {
        warnings.push(format!(
            "role {role} can also use schema {}: a compromised service could read or change \
             their data; {advice}",
            others.join(", ")
        ));
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_owner_is_refused_and_more_than_the_schema_warned_about() {
        let none: &[String] = &[];
        let own = || Some("users_api".to_owned());
        assert_eq!(
            verdict("users_api", "users", false, false, own(), none),
            Ok(vec![])
        );
        assert_eq!(
            verdict("users_api", "users", false, false, None, none),
            Ok(vec![])
        );
        let refused = verdict("users_api", "users", false, false, Some("kub".into()), none);
        assert!(refused.unwrap_err().contains("owned by role kub"));
        let refused = verdict("kub", "users", true, true, own(), none);
        assert!(refused.unwrap_err().contains("owned by role users_api"));
        let superuser = verdict("kub", "users", true, true, Some("kub".into()), none).unwrap();
        assert_eq!(superuser.len(), 1);
        assert!(superuser[0].contains("superuser"), "{superuser:?}");
        let both = verdict("app", "users", false, true, None, &["tasks".to_owned()]).unwrap();
        assert!(both[0].contains("create roles"), "{both:?}");
        assert!(both[1].contains("schema tasks"), "{both:?}");
    }
}
