/* The modeler bundle replaces window.BpmnJS; the viewer loaded before it is kept for the diff view. */
window.BpmnViewer = window.BpmnJS;
