"""How far a translation can be trusted: QA flags, glossary terms and names, and the repair
pass that decodes flagged segments again."""
