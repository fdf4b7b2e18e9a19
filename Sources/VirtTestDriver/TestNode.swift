import VirtCore

/// The host the test driver pretends to be: node info, NUMA cells and the capabilities document.
struct TestNode: Sendable {
    /// One NUMA cell of the fake host.
    struct Cell: Sendable {
        /// KiB.
        var memory: UInt64
        /// KiB.
        var freeMemory: UInt64
        /// (id, socket, core) of each CPU.
        var cpus: [(id: Int, socket: Int, core: Int)]
    }

    var info: NodeInfo
    var cells: [Cell]

    /// libvirt's `defaultNodeInfo`: i686, 3 GiB, 16 CPUs at 1400 MHz, 2 nodes x 2 sockets x 2 cores x 2 threads.
    static let defaultInfo = NodeInfo(model: "i686", memory: 3 * 1024 * 1024, cpus: 16, mhz: 1400, nodes: 2,
                                      sockets: 2, cores: 2, threads: 2)

    /// The node of `test:///default`: two cells of eight CPUs each.
    static var defaultNode: TestNode {
        var cells: [Cell] = []
        for i in 0..<2 {
            let cpus = (0..<8).map { j in (id: i * 8 + j, socket: i, core: j) }
            cells.append(Cell(memory: UInt64(i + 1) * 2048 * 1024, freeMemory: UInt64(i + 1) * 1024 * 1024,
                              cpus: cpus))
        }
        return TestNode(info: defaultInfo, cells: cells)
    }

    /// The free memory the test driver reports (`virNodeGetFreeMemory`): the sum of the cells' free memory.
    var freeMemory: UInt64 { cells.reduce(0) { $0 + $1.freeMemory } }

    /// The capabilities XML, formatted as libvirt's `virCapabilitiesFormatXML` does for the test driver.
    var capabilitiesXML: String {
        let pageSizes: [UInt64] = [4, 8, 2048, 1024 * 1024]
        var s = "<capabilities>\n\n  <host>\n    <cpu>\n      <arch>i686</arch>\n      <features>\n"
        s += "        <pae/>\n        <nonpae/>\n      </features>\n"
        for p in pageSizes { s += "      <pages unit='KiB' size='\(p)'/>\n" }
        s += "    </cpu>\n    <power_management/>\n    <iommu support='no'/>\n    <topology>\n"
        s += "      <cells num='\(cells.count)'>\n"
        for (i, cell) in cells.enumerated() {
            s += "        <cell id='\(i)'>\n"
            s += "          <memory unit='KiB'>\(cell.memory)</memory>\n"
            // The first page size of cell 1 is 8 KiB, of the others 4 KiB (testBuildCapabilities).
            let first = i == 1 ? pageSizes[1] : pageSizes[0]
            s += "          <pages unit='KiB' size='\(first)'>\(cell.memory / first)</pages>\n"
            for p in pageSizes[2...] { s += "          <pages unit='KiB' size='\(p)'>0</pages>\n" }
            s += "          <cpus num='\(cell.cpus.count)'>\n"
            for c in cell.cpus {
                s += "            <cpu id='\(c.id)' socket_id='\(c.socket)' die_id='0' core_id='\(c.core)'"
                s += " siblings='\(c.id)'/>\n"
            }
            s += "          </cpus>\n        </cell>\n"
        }
        s += "      </cells>\n    </topology>\n    <secmodel>\n      <model>testSecurity</model>\n"
        s += "      <doi></doi>\n    </secmodel>\n  </host>\n\n"
        for osType in ["hvm", "xen"] {
            s += "  <guest>\n    <os_type>\(osType)</os_type>\n    <arch name='i686'>\n"
            s += "      <wordsize>32</wordsize>\n      <emulator>/usr/bin/test-hv</emulator>\n"
            s += "      <domain type='test'/>\n    </arch>\n    <features>\n      <pae/>\n      <nonpae/>\n"
            s += "    </features>\n  </guest>\n\n"
        }
        s += "</capabilities>\n"
        return s
    }
}
