import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Ansible's community.libvirt modules as Debian ships them (`virt_net`, `virt_pool`, `virt`), unchanged,
/// through virtd and through Debian's libvirtd 9.0 side by side (each daemon in a network namespace of the
/// test, with the NAT network `default` and the dir pool `default` of ``VirtInstallHosts``): one playbook
/// defines, starts, queries, modifies, stops and removes a network, a pool and a domain, and lists and reads
/// facts from the host. Every task's result (changed, failed, message and returned data; directories, UUIDs
/// and MACs masked) agrees.
@Suite("Ansible community.libvirt modules: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .root, .referenceLibvirtd))
struct AnsibleModulesTests {
    static let playbook = """
    - hosts: localhost
      connection: local
      gather_facts: false
      vars:
        ansible_python_interpreter: /usr/bin/python3
        isol: "<network><name>isol</name><bridge name='virbr9'/><ip address='10.77.0.1' netmask='255.255.255.0'><dhcp><range start='10.77.0.10' end='10.77.0.20'/></dhcp></ip></network>"
        host: "<host mac='52:54:00:77:00:01' name='h1' ip='10.77.0.11'/>"
        pool: "<pool type='dir'><name>p2</name><target><path>{{ dir }}/p2</path></target></pool>"
        dom: "<domain type='qemu'><name>ans</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type><kernel>{{ dir }}/guest/vmlinuz</kernel><initrd>{{ dir }}/guest/initrd.img</initrd></os><devices><serial type='pty'/></devices></domain>"
      tasks:
        - {name: list_nets, community.libvirt.virt_net: {command: list_nets, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: net facts, community.libvirt.virt_net: {command: facts, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: define isol, community.libvirt.virt_net: {command: define, name: isol, xml: "{{ isol }}", uri: "{{ uri }}"}, ignore_errors: true}
        - {name: present isol, community.libvirt.virt_net: {state: present, name: isol, xml: "{{ isol }}", uri: "{{ uri }}"}, ignore_errors: true}
        - {name: status isol, community.libvirt.virt_net: {command: status, name: isol, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: start isol, community.libvirt.virt_net: {state: active, name: isol, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: start isol again, community.libvirt.virt_net: {state: active, name: isol, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: autostart isol, community.libvirt.virt_net: {autostart: true, name: isol, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: net info, community.libvirt.virt_net: {command: info, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: modify isol, community.libvirt.virt_net: {command: modify, name: isol, xml: "{{ host }}", uri: "{{ uri }}"}, ignore_errors: true}
        - {name: get_xml isol, community.libvirt.virt_net: {command: get_xml, name: isol, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: stop isol, community.libvirt.virt_net: {state: inactive, name: isol, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: remove isol, community.libvirt.virt_net: {state: absent, name: isol, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: status missing net, community.libvirt.virt_net: {command: status, name: nosuch, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: list_pools, community.libvirt.virt_pool: {command: list_pools, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: pool facts, community.libvirt.virt_pool: {command: facts, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: define p2, community.libvirt.virt_pool: {command: define, name: p2, xml: "{{ pool }}", uri: "{{ uri }}"}, ignore_errors: true}
        - {name: build p2, community.libvirt.virt_pool: {command: build, name: p2, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: start p2, community.libvirt.virt_pool: {state: active, name: p2, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: autostart p2, community.libvirt.virt_pool: {autostart: true, name: p2, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: refresh p2, community.libvirt.virt_pool: {command: refresh, name: p2, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: pool info, community.libvirt.virt_pool: {command: info, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: get_xml p2, community.libvirt.virt_pool: {command: get_xml, name: p2, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: stop p2, community.libvirt.virt_pool: {state: inactive, name: p2, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: delete p2, community.libvirt.virt_pool: {command: delete, name: p2, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: remove p2, community.libvirt.virt_pool: {state: absent, name: p2, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: list_vms, community.libvirt.virt: {command: list_vms, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: define ans, community.libvirt.virt: {command: define, xml: "{{ dom }}", uri: "{{ uri }}"}, ignore_errors: true}
        - {name: status ans, community.libvirt.virt: {command: status, name: ans, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: get_xml ans, community.libvirt.virt: {command: get_xml, name: ans, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: start ans, community.libvirt.virt: {state: running, name: ans, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: start ans again, community.libvirt.virt: {state: running, name: ans, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: vm info, community.libvirt.virt: {command: info, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: list running, community.libvirt.virt: {command: list_vms, state: running, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: nodeinfo, community.libvirt.virt: {command: nodeinfo, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: virttype, community.libvirt.virt: {command: virttype, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: pause ans, community.libvirt.virt: {state: paused, name: ans, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: destroy ans, community.libvirt.virt: {state: destroyed, name: ans, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: undefine ans, community.libvirt.virt: {command: undefine, name: ans, uri: "{{ uri }}"}, ignore_errors: true}
        - {name: status missing vm, community.libvirt.virt: {command: status, name: nosuch, uri: "{{ uri }}"}, ignore_errors: true}
    """

    /// Runs the playbook with the json callback and prints one line per task: its name and its result without
    /// the module's own arguments, keys sorted.
    static let runner = #"""
    import json, os, subprocess, sys
    uri, d, play = sys.argv[1], sys.argv[2], sys.argv[3]
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False",
               ANSIBLE_NOCOLOR="1", HOME=d)
    p = subprocess.run(["/usr/bin/ansible-playbook", play, "-e", json.dumps({"uri": uri, "dir": d})],
                       capture_output=True, text=True, env=env)
    try:
        out = json.loads(p.stdout)
    except ValueError:
        print("ansible-playbook:", p.returncode, p.stdout[-2000:], p.stderr[-2000:])
        sys.exit(1)
    for t in out["plays"][0]["tasks"]:
        r = dict(t["hosts"]["localhost"])
        for k in ("invocation", "_ansible_no_log", "_ansible_verbose_always", "warnings", "deprecations"):
            r.pop(k, None)
        print(t["task"]["name"] + ": " + json.dumps(r, sort_keys=True))
    """#

    /// What changes between two reads of the same host: byte counts of the file system and CPU times; and
    /// the module's payload directory in a traceback.
    static func masked(_ s: String) -> String {
        var t = s
        for (pattern, with) in [("\"(size_available|size_total|size_used|cpuTime)\": \"[0-9]+\"", "\"$1\": \"N\""),
                                ("<(capacity|allocation|available) unit='bytes'>[0-9]+<", "<$1 unit='bytes'>N<"),
                                ("/tmp/ansible_[A-Za-z0-9_.]+_payload_[a-z0-9_]+/", "/tmp/PAYLOAD/")] {
            t = t.replacingOccurrences(of: pattern, with: with, options: .regularExpression)
        }
        return t
    }

    @Test("one playbook of virt_net, virt_pool and virt tasks: the same results from virtd as from libvirtd")
    func playbookLikeLibvirtd() throws {
        let hosts = try VirtInstallHosts()
        defer { hosts.cleanup() }
        var outputs: [[String]] = []
        var raw: [String] = []
        for (uri, dir) in [(hosts.ours.uri, hosts.ourDir), (hosts.ref.uri, hosts.refDir)] {
            try Self.playbook.write(toFile: dir + "/play.yml", atomically: true, encoding: .utf8)
            try Self.runner.write(toFile: dir + "/run.py", atomically: true, encoding: .utf8)
            let r = try ChildProcess.run(["/usr/bin/python3", dir + "/run.py", uri, dir, dir + "/play.yml"], timeLimit: 600)
            #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
            raw.append(r.stdout)
            outputs.append(Self.masked(hosts.normalise(r.stdout)).split(separator: "\n").map(String.init))
        }
        let (mine, theirs) = (outputs[0], outputs[1])
        #expect(mine.count == theirs.count && mine.count == 40, "\(mine.count) vs \(theirs.count) tasks")
        for (a, b) in zip(mine, theirs) where a != b {
            Issue.record("virtd:    \(a)\nlibvirtd: \(b)")
        }
        // The modules did their work (not only failed alike): the network and pool came and went, the domain ran.
        for task in ["start isol: ", "start p2: ", "start ans: ", "remove isol: ", "remove p2: ", "destroy ans: "] {
            #expect(mine.contains { $0.hasPrefix(task) && $0.contains("\"changed\": true") }, "\(task) in \(mine)")
        }
        // The pool sizes (masked above: the file system is written meanwhile) count as libvirt counts them: the
        // same total, and free space within 2% of what libvirtd read a moment apart (libvirt counts the
        // root-reserved blocks as available).
        func sizes(_ text: String) -> [String: Double] {
            var out: [String: Double] = [:]
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("pool facts: ") }) else { return out }
            for key in ["size_total", "size_available"] {
                if let r = line.range(of: "\"\(key)\": \"[0-9]+\"", options: .regularExpression) {
                    out[key] = Double(line[r].split(separator: "\"")[2])
                }
            }
            return out
        }
        let (o, t) = (sizes(raw[0]), sizes(raw[1]))
        #expect(o["size_total"] != nil && o["size_total"] == t["size_total"], "\(o) \(t)")
        if let a = o["size_available"], let b = t["size_available"] {
            #expect(abs(a - b) <= 0.02 * b, "available: virtd \(a) libvirtd \(b)")
        } else {
            Issue.record("no pool sizes: \(o) \(t)")
        }
    }
}
