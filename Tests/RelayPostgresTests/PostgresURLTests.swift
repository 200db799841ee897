import RelayCore
import Testing

@testable import RelayPostgres

/// URL parsing and SQL text scanning: no server needed.
struct PostgresURLTests {
    @Test func aURLGivesItsPartsAndALocationWithoutThePassword() throws {
        let url = try PostgresURL(parsing: "postgresql://rel%40y:p%3Ass@db.example:6543/relay%5Fdb?sslmode=disable")
        #expect(url.username == "rel@y")
        #expect(url.password == "p:ss")
        #expect(url.host == "db.example")
        #expect(url.port == 6543)
        #expect(url.database == "relay_db")
        #expect(url.location == "postgres://rel%40y:***@db.example:6543/relay%5Fdb?sslmode=disable")
        let plain = try PostgresURL(parsing: "postgres://relay@[::1]/relay")
        #expect(plain.host == "::1")
        #expect(plain.port == 5432)
        #expect(plain.password == nil)
        #expect(plain.location == "postgres://relay@[::1]/relay")
    }

    @Test(arguments: [
        ("mysql://u@h/db", "no postgres:// or postgresql://"),
        ("postgres://localhost/db", "no user"),
        ("postgres://u@h:port/db", "port \"port\""),
        ("postgres://u@h:70000/db", "port \"70000\""),
        ("postgres://u@/db", "no host"),
        ("postgres://u@h/a/b", "expected one name"),
        ("postgres://u:%zz@h/db", "percent-encoded password"),
        ("postgres://u@h/db?sslmode=require", "sslmode=require is not supported yet"),
        ("postgres://u@h/db?timeout=3", "the parameter \"timeout\""),
    ])
    func aMalformedURLSaysWhatWasExpectedAndFound(url: String, found: String) {
        let error = #expect(throws: RelayError.self) { try PostgresURL(parsing: url) }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains(found) == true, "\(error?.message ?? "")")
        #expect(error?.message.hasPrefix("PostgreSQL URL: ") == true)
    }

    @Test func theDatabaseRefusesAMalformedURLWithoutPrintingThePassword() {
        let error = #expect(throws: RelayError.self) {
            try PostgresDatabase(url: "postgres://u:hunter2@h:99999/db")
        }
        #expect(error?.message.contains("hunter2") == false)
        #expect(error?.message.contains("expected postgres://user") == true)
    }

    @Test func placeholdersAreNumberedOutsideLiteralsIdentifiersAndComments() {
        let (sql, count) = PostgresSQLText.numberingPlaceholders(
            "SELECT ?, '?''?', \"?\", E'\\'?', $$?$$, $t$ ? $t$, -- ?\n /* ? /* ? */ ? */ x$y ?, ?")
        #expect(sql == "SELECT $1, '?''?', \"?\", E'\\'?', $$?$$, $t$ ? $t$, -- ?\n /* ? /* ? */ ? */ x$y $2, $3")
        #expect(count == 3)
    }

    @Test func statementsSplitAtSemicolonsOutsideLiteralsAndFunctionBodies() {
        let statements = PostgresSQLText.statements(
            """
            CREATE TABLE a (t TEXT DEFAULT ';');
            CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN RETURN NEW; END; $$ LANGUAGE plpgsql; -- done;
            ;
            """)
        #expect(statements.count == 2)
        #expect(statements.first?.hasSuffix("';');") == true)
        #expect(statements.last?.contains("END; $$ LANGUAGE plpgsql;") == true)
    }
}
