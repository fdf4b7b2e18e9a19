extension TypedParam {
    /// libvirt's `virTypedParamsValidate`: every parameter is known (`types`: name → virTypedParameterType)
    /// and of its type, else libvirt's error.
    public static func validate(_ params: [TypedParam], _ types: [String: Int32]) throws(VirtError) {
        let names = [1: "int", 2: "uint", 3: "llong", 4: "ullong", 5: "double", 6: "boolean", 7: "string"]
        for p in params {
            guard let want = types[p.field] else {
                throw VirtError(.argumentUnsupported, domain: .none,
                                "argument unsupported: parameter '\(p.field)' not supported",
                                str1: "parameter '\(p.field)' not supported")
            }
            if p.value.typeCode != want {
                throw VirtError.invalidArg("invalid type '\(names[Int(p.value.typeCode)] ?? "")' for parameter "
                    + "'\(p.field)', expected '\(names[Int(want)] ?? "")'", domain: .none)
            }
        }
    }
}
