import ArgumentParser
import Logging
import ZeroTaskNode
import ZeroTaskPlugins

/// `zerotask plugins check|list [DIR]`: what a node would load from a plugins folder.
struct PluginsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins",
        abstract: "Check or list the plugins in a folder.",
        subcommands: [Check.self, List.self]
    )

    /// Loads the folder with a logger that stays quiet: the commands print their own verdicts.
    /// Each library is first loaded alone in a throwaway process, as a node does: one that
    /// crashes there (a truncated file: SIGBUS) gets a verdict and is not loaded here.
    static func load(_ directory: String) -> (PluginSet, [PluginProblem]) {
        PluginSet.load(directory: directory, excluded: PluginProbes.failures(in: directory),
                       logger: Logger(label: "zerotask.plugins", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load every plugin, print a verdict per plugin, exit non-zero on any problem."
        )

        @Argument(help: "The plugins folder.")
        var directory = "Plugins"

        func run() throws {
            let (set, problems) = PluginsCommand.load(directory)
            defer { set.shutdown() }
            let (text, ok) = PluginReport.check(set, problems: problems)
            print(text)
            if !ok { throw ExitCode(1) }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every method with its signature and doc.")

        @Argument(help: "The plugins folder.")
        var directory = "Plugins"

        @Flag(help: "Print the methods' descriptions as a JSON array.")
        var json = false

        func run() throws {
            let (set, problems) = PluginsCommand.load(directory)
            defer { set.shutdown() }
            // The limits a node with this configuration would enforce.
            let sandbox = try SandboxSettings(try Settings(file: nil))
            print(PluginReport.list(set, json: json) { declared in
                let profile = sandbox.profile(for: declared)
                return (profile.description, profile.json)
            })
            if !problems.isEmpty && !json {
                print("(\(problems.count) plugin\(problems.count == 1 ? "" : "s") skipped: run `zerotask plugins check \(directory)`)")
            }
        }
    }
}
