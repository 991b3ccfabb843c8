"""mash: a BPMN-driven workflow engine for a children's services front door."""
