import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// `save-image-dumpxml`, `save-image-define` and their managed-save variants on the QEMU driver.
extension QEMUDriver {
    /// VIR_DOMAIN_SAVE_RUNNING and VIR_DOMAIN_SAVE_PAUSED.
    private static let stateFlags: UInt32 = 2 | 4

    public func saveImageXML(path: String, flags: UInt32) async throws -> String {
        try Self.checkImageFlags(flags, allowed: 1, function: "qemuDomainSaveImageGetXMLDesc")
        let image = try QEMUSaveImage.read(path: Self.absolute(path))
        return try DomainDefinition.parse(image.xml).formatXML()
    }

    public func saveImageDefineXML(path: String, xml: String, flags: UInt32) async throws {
        try Self.checkImageFlags(flags, allowed: Self.stateFlags, function: "qemuDomainSaveImageDefineXML")
        try Self.redefine(Self.absolute(path), xml: xml, flags: flags)
    }

    public func managedSaveXML(_ domain: DomainRef, flags: UInt32) async throws -> String {
        try Self.checkImageFlags(flags, allowed: 1, function: "qemuDomainManagedSaveGetXMLDesc")
        let path = try await managedSavePath(domain)
        let image = try QEMUSaveImage.read(path: path)
        return try DomainDefinition.parse(image.xml).formatXML()
    }

    public func managedSaveDefineXML(_ domain: DomainRef, xml: String?, flags: UInt32) async throws {
        try Self.checkImageFlags(flags, allowed: Self.stateFlags, function: "qemuDomainManagedSaveDefineXML")
        let path = try await managedSavePath(domain)
        try Self.redefine(path, xml: xml, flags: flags)
    }

    /// The managed save image of `domain`, or libvirt's error when it has none.
    private func managedSavePath(_ domain: DomainRef) async throws -> String {
        let obj = try await state.object(domain)
        let path = state.paths.managedSaveFile(await obj.name)
        guard access(path, F_OK) == 0 else {
            throw VirtError.operationInvalid("domain does not have managed save image", domain: .qemu)
        }
        return path
    }

    /// Rewrites the image's definition (which must name the same domain) and its state, keeping its stream
    /// and cookie; writes nothing when neither changes.
    private static func redefine(_ path: String, xml: String?, flags: UInt32) throws {
        var image = try QEMUSaveImage.read(path: path)
        let running = flags & 2 != 0 ? true : flags & 4 != 0 ? false : image.wasRunning
        var newXML = image.xml
        if let xml, xml != image.xml {
            let old = try DomainDefinition.parse(image.xml)
            let new = try DomainDefinition.parse(xml)
            try QEMUDomainObject.checkSameDomain(old, new)
            newXML = new.formatXML()
        }
        if newXML == image.xml && running == image.wasRunning { return }
        image.xml = newXML
        image.wasRunning = running
        try image.rewrite(path: path, final: true)
    }

    private static func checkImageFlags(_ flags: UInt32, allowed: UInt32, function: String) throws {
        if flags & ~allowed != 0 {
            throw VirtError.unsupportedFlags(UInt64(flags & ~allowed), function: function, domain: .qemu)
        }
        if flags & 6 == 6 {
            throw VirtError.invalidArg("flags 'running' and 'paused' are mutually exclusive", domain: .qemu)
        }
    }
}
