"""Exchange with other tools: SBML (libSBML; checked with libRoadRunner) and SKiMpy populations."""
