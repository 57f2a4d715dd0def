//! Role levels: what the server authorises on. Role names stay data.

/// The three authority levels. System roles 1, 2, 3 have these levels; a company's own
/// roles are ordinary members (their access rules only drive the admin menus).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// 超级管理员: the platform operator, across companies.
    Operator = 1,
    /// 管理员: manages its own company.
    Admin = 2,
    /// 普通成员: a salesperson.
    Member = 3,
}

impl Level {
    pub fn from_db(v: i16) -> Level {
        match v {
            1 => Level::Operator,
            2 => Level::Admin,
            _ => Level::Member,
        }
    }
    /// Operator or company admin.
    pub fn is_admin(self) -> bool {
        self <= Level::Admin
    }
}

/// The system role ids seeded by the first migration.
pub const OPERATOR_ROLE: i64 = 1;
pub const ADMIN_ROLE: i64 = 2;
pub const MEMBER_ROLE: i64 = 3;
