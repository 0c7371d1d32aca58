# Builds a small TouchDesigner network that receives damer's OSC and shows valence and arousal.
#
# Run it from TouchDesigner's textport (Dialogs > Textport and DATs):
#
#     exec(open('/path/to/damer/examples/touchdesigner/build_network.py').read())
#
# It (re)creates the Base COMP /project1/damer holding:
#
#     oscin  (OSC In CHOP, port 9000, first address segment stripped: /damer/valence -> channel 'valence')
#       -> select  (Select CHOP: 'valence arousal')
#       -> lag     (Lag CHOP: 0.1 s up and down)
#       -> math    (Math CHOP: -1..1 -> 0..1)
#       -> out     (Null CHOP: read by the TOPs below)
#     oscin -> p_high  (Select CHOP: the two p(high) channels, to look at or export)
#     colour (Constant TOP: red = arousal, green = valence, blue = 1 - valence)
#       -> dot (Circle TOP composited over it, centred at (valence, arousal))
#
# Written from TouchDesigner's documentation of these operators and of COMP.create, Connector.connect and
# Par.expr / Par.menuIndex; it has not been run inside TouchDesigner by the damer project.
#
# op() and the operator types (baseCOMP, oscinCHOP, ...) are globals of TouchDesigner's textport.
# ruff: noqa: F821

PORT = 9000  # the port damer sends to (damer stream --osc HOST:PORT)
PREFIX_SEGMENTS = 1  # segments of the prefix: 1 for /damer, 2 for --prefix /show/emotion
PARENT = "/project1"  # where the Base COMP goes
NAME = "damer"


def place(node, column, row):
    """Lay the network out left to right."""
    node.nodeX = column * 180
    node.nodeY = -row * 140


parent_comp = op(PARENT)
previous = parent_comp.op(NAME)
if previous is not None:
    previous.destroy()
net = parent_comp.create(baseCOMP, NAME)

osc_in = net.create(oscinCHOP, "oscin")
osc_in.par.port = PORT
osc_in.par.stripsegments = PREFIX_SEGMENTS
place(osc_in, 0, 0)

select_va = net.create(selectCHOP, "select")
select_va.par.channames = "valence arousal"
osc_in.outputConnectors[0].connect(select_va)
place(select_va, 1, 0)

lag_va = net.create(lagCHOP, "lag")
lag_va.par.lag1 = 0.1
lag_va.par.lag2 = 0.1
lag_va.par.lagunit.menuIndex = 2  # Samples, Frames, Seconds
select_va.outputConnectors[0].connect(lag_va)
place(lag_va, 2, 0)

range_va = net.create(mathCHOP, "math")
range_va.par.fromrange1 = -1
range_va.par.fromrange2 = 1
range_va.par.torange1 = 0
range_va.par.torange2 = 1
lag_va.outputConnectors[0].connect(range_va)
place(range_va, 3, 0)

out = net.create(nullCHOP, "out")
range_va.outputConnectors[0].connect(out)
place(out, 4, 0)

p_high = net.create(selectCHOP, "p_high")
p_high.par.channames = "*p_high"  # 'valence/p_high' or 'valence_p_high': see the README
osc_in.outputConnectors[0].connect(p_high)
place(p_high, 1, 1)

colour = net.create(constantTOP, "colour")
colour.par.colorr.expr = "op('out')['arousal']"
colour.par.colorg.expr = "op('out')['valence']"
colour.par.colorb.expr = "1 - op('out')['valence']"
place(colour, 3, 2)

dot = net.create(circleTOP, "dot")
dot.par.compoverinput = True
dot.par.bgalpha = 0
dot.par.radiusunit.menuIndex = 1  # Pixels, Fraction, Fraction Aspect
dot.par.radiusx = 0.05
dot.par.radiusy = 0.05
dot.par.centerunit.menuIndex = 1  # Fraction: (0, 0) is the centre, +-0.5 the edges
dot.par.centerx.expr = "(op('out')['valence'] - 0.5) * 0.9"
dot.par.centery.expr = "(op('out')['arousal'] - 0.5) * 0.9"
colour.outputConnectors[0].connect(dot)
dot.viewer = True
place(dot, 4, 2)

print("damer: built", net.path, "- start damer stream, then look at", dot.path)
