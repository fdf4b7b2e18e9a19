import Virt

/// The `-h` and `-V` texts.
enum Usage {
    static let longVersion = "Virsh command line tool of libvirt \(Format.version(Connection.libraryVersion))\n"
        + "See web site at https://libvirt.org/\n\n"

    @MainActor
    static func print(_ shell: Shell) {
        shell.print("""

            virsh [options]... [<command_string>]
            virsh [options]... <command> [args...]

              options:
                -c | --connect=URI      hypervisor connection URI
                -d | --debug=NUM        debug level [0-4]
                -e | --escape <char>    set escape sequence for console
                -h | --help             this help
                -k | --keepalive-interval=NUM
                                        keepalive interval in seconds, 0 for disable
                -K | --keepalive-count=NUM
                                        number of possible missed keepalive messages
                -l | --log=FILE         output logging to file
                -q | --quiet            quiet mode
                -r | --readonly         connect readonly
                -t | --timing           print timing information
                -v                      short version
                -V                      long version
                     --version[=TYPE]   version, TYPE is short or long (default short)
              commands (non interactive mode):


            """)
        for group in shell.registry.groups {
            shell.print(" \(group.name) (help keyword '\(group.keyword)')\n")
            for command in group.listed {
                shell.print("    " + Format.padRight(command.name, 30) + " " + command.summary + "\n")
            }
            shell.print("\n")
        }
        shell.print("""
              (specify help <group> for details about the commands in the group)

              (specify help <command> for details about the command)


            """)
    }
}
