/// The node description `test:///default` starts from: libvirt's built-in running domain "test" and
/// active network "default".
enum DefaultNode {
    static let xml = """
        <node>
        <domain type='test'>
          <name>test</name>
          <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
          <memory>8388608</memory>
          <currentMemory>2097152</currentMemory>
          <vcpu>2</vcpu>
          <os>
            <type>hvm</type>
          </os>
          <devices>
            <disk type='file' device='disk'>
              <source file='/guest/diskimage1'/>
              <target dev='vda' bus='virtio'/>
              <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
            </disk>
            <interface type='network'>
              <mac address='aa:bb:cc:dd:ee:ff'/>
              <source network='default'/>
              <address type='pci' domain='0x0000' bus='0x00' slot='0x1' function='0x0'/>
            </interface>
            <memballoon model='virtio'>
              <address type='pci' domain='0x0000' bus='0x00' slot='0x2' function='0x0'/>
            </memballoon>
          </devices>
        </domain>
        <network>
          <name>default</name>
          <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>
          <bridge name='virbr0'/>
          <forward/>
          <ip address='192.168.122.1' netmask='255.255.255.0'>
            <dhcp>
              <range start='192.168.122.2' end='192.168.122.254'/>
            </dhcp>
          </ip>
        </network>
        </node>
        """
}
