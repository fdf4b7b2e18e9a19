/// `<watchdog model='…'>` (libvirt 9.0's set).
public enum WatchdogModel: String, XMLEnum {
    case i6300esb, ib700, diag288
}

/// `<watchdog action='…'>`.
public enum WatchdogAction: String, XMLEnum {
    case reset, shutdown, poweroff, pause, dump, none
    case injectNMI = "inject-nmi"
}

/// A `<watchdog>` device.
public struct Watchdog: Sendable, Hashable {
    public var model: WatchdogModel
    public var action: WatchdogAction
    public var info: DeviceInfo

    public init(model: WatchdogModel, action: WatchdogAction = .reset, info: DeviceInfo = DeviceInfo()) {
        self.model = model
        self.action = action
        self.info = info
    }

    static func parse(_ el: XMLElement, options: DomainParseOptions) throws(VirtError) -> Watchdog {
        guard let m = el.attr("model") else { throw DeviceError.internalError("watchdog must contain model name") }
        guard let model = WatchdogModel(rawValue: m) else {
            throw DeviceError.unsupported("unknown watchdog model '\(m)'")
        }
        var action = WatchdogAction.reset
        if let a = el.attr("action") {
            guard let v = WatchdogAction(rawValue: a) else {
                throw DeviceError.unsupported("unknown watchdog action '\(a)'")
            }
            action = v
        }
        return Watchdog(model: model, action: action, info: try DeviceInfo.parse(el, options: options))
    }

    func format(into w: inout XMLWriter, options: DomainFormatOptions) {
        w.element("watchdog", [("model", model.rawValue), ("action", action.rawValue)]) { w in
            info.format(into: &w, options: options)
        }
    }
}
