import Foundation
import NIOCore
import PostgresNIO
import RelayCore
import RelayTransport

/// A `SQLValue` bound to a `$n` parameter. By default it is sent as text with no type (OID 0), so that PostgreSQL
/// infers the parameter's type from where it stands, as it does for a quoted literal: an `.int` compared with or
/// written into a DOUBLE PRECISION column is a double, a `.text` into TEXT is text, a `.blob` (in bytea's hex form)
/// into BYTEA is bytes, a `.null` is NULL of any type. Where the context says nothing (`SELECT ? IS NULL`: SQLSTATE
/// 42P18) the session sends the statement again with `typed` parameters: BIGINT, DOUBLE PRECISION, TEXT, BYTEA.
struct PostgresParameter: PostgresDynamicTypeEncodable {
    let value: SQLValue
    let typed: Bool

    var psqlType: PostgresDataType {
        guard typed else { return .null } // OID 0: "unspecified", PostgreSQL infers it.
        switch value {
        case .null, .text: return .text
        case .int: return .int8
        case .double: return .float8
        case .blob: return .bytea
        }
    }

    var psqlFormat: PostgresFormat {
        switch (typed, value) {
        case (true, .int), (true, .double), (true, .blob): .binary
        default: .text
        }
    }

    func encode<JSONEncoder: PostgresJSONEncoder>(
        into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>
    ) {
        switch (typed, value) {
        case (_, .null): break // never called: `bind` binds NULL itself.
        case (true, .int(let v)): buffer.writeInteger(v)
        case (true, .double(let v)): buffer.writeInteger(v.bitPattern)
        case (true, .blob(let v)): buffer.writeBytes(v)
        case (false, .int(let v)): buffer.writeString(String(v))
        case (false, .double(let v)): buffer.writeString(Self.text(of: v))
        case (false, .blob(let v)): buffer.writeString(Self.hex(v))
        case (_, .text(let v)): buffer.writeString(v)
        }
    }

    /// A double as float8 reads it back exactly: Swift's shortest round-trip form, PostgreSQL's words for the rest.
    static func text(of value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        return "\(value)"
    }

    /// bytea's hex input form: \x then two hex digits a byte.
    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = [UInt8(ascii: "\\"), UInt8(ascii: "x")]
        text.reserveCapacity(2 + bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    static func bind(_ values: [SQLValue], typed: Bool) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: values.count)
        for value in values {
            switch (value, typed) {
            case (.null, false): bindings.appendNull() // OID 0 as well.
            // A NULL of type text: only PostgresData (on its way out) binds a typed NULL.
            case (.null, true): bindings.append(PostgresData(type: .text, value: nil))
            default: bindings.append(PostgresParameter(value: value, typed: typed))
            }
        }
        return bindings
    }
}

extension PostgresCell {
    /// The cell as a `SQLValue`, by its column's type: integers → `.int`, float4/float8/numeric → `.double`,
    /// text-like types (text, varchar, char, name, json, jsonb, uuid) → `.text`, bytea → `.blob`, bool → `.int(0/1)`.
    func sqlValue() throws -> SQLValue {
        guard var buffer = bytes else { return .null }
        do {
            switch dataType {
            case .int2, .int4, .int8, .oid:
                if dataType == .oid, format == .binary, let v = buffer.readInteger(as: UInt32.self) {
                    return .int(Int64(v))
                }
                return .int(try decode(Int64.self))
            case .float4, .float8:
                return .double(try decode(Double.self))
            case .numeric:
                let decimal = try decode(Decimal.self)
                guard let double = Double(decimal.description) else { throw PostgresDecodingError.Code.failure }
                return .double(double)
            case .bool:
                return .int(try decode(Bool.self) ? 1 : 0)
            case .bytea:
                return .blob(Array(buffer.readableBytesView))
            case .text, .varchar, .bpchar, .name, .json, .jsonb, .uuid, .unknown:
                return .text(try decode(String.self))
            default:
                guard format == .text, let text = buffer.readString(length: buffer.readableBytes) else {
                    throw RelayError(
                        .invalidValue,
                        "column \(columnName) has type \(dataType) (OID \(dataType.rawValue)), which has no SQLValue;"
                            + " cast it in the statement (for example \(columnName)::text)")
                }
                return .text(text)
            }
        } catch let error as RelayError {
            throw error
        } catch {
            throw RelayError(
                .invalidValue, "column \(columnName): cannot read a \(dataType) value: \(String(reflecting: error))")
        }
    }
}
