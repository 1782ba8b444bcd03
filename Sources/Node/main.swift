// linkring-node: a LinkRing storage node. See NodeProcess.swift.
import LinkRingUV

NodeProcess.run(Array(CommandLine.arguments.dropFirst()))
