"""The text bank of the offline demo's feed simulator (see monitor/simulate.py).

Fan posts about V (Kim Taehyung) singing Anthony Lazaro's "Love Letter" in the
behind-the-scenes video of IU's "Love wins all", plus chatter that mentions neither topic.
Every template names the topics its rendered text must mention under config/monitor.toml
(tests/unit/test_simulate.py checks this with the real matcher), so fillers are chosen to
keep that true: each `{v}`, `{ko_v}` and `{ja_v}` option is a context term of `love-letter`.

Templates are `str.format` patterns over `FILLERS`. Handles are invented; no real user names.
"""

from __future__ import annotations

from dataclasses import dataclass

LOVE_LETTER = "love-letter"
LOVE_WINS_ALL = "love-wins-all"

LL = frozenset({LOVE_LETTER})
LWA = frozenset({LOVE_WINS_ALL})
BOTH = LL | LWA
NONE: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PostTemplate:
    """One post pattern: `text` rendered with FILLERS mentions exactly `topics`."""

    lang: str
    topics: frozenset[str]
    text: str


FILLERS: dict[str, tuple[str, ...]] = {
    "v": ("V", "Taehyung", "Tae", "Kim Taehyung"),
    "e": ("😭💜", "🥹", "💜", "🔥🔥", "😭😭😭", "🥹💜✨", "💜💜💜", ""),
    "ko_v": ("뷔", "태형이", "김태형", "우리 태형이"),
    "ko_e": ("ㅠㅠ", "ㅠㅠㅠ", "😭💜", "💜", "🥹", ""),
    "ja_v": ("テテ", "テヒョン", "V"),
}


def _en(topics: frozenset[str], text: str) -> PostTemplate:
    return PostTemplate("en", topics, text)


def _ko(topics: frozenset[str], text: str) -> PostTemplate:
    return PostTemplate("ko", topics, text)


def _ja(topics: frozenset[str], text: str) -> PostTemplate:
    return PostTemplate("ja", topics, text)


def _id(topics: frozenset[str], text: str) -> PostTemplate:
    return PostTemplate("id", topics, text)


def _pt(topics: frozenset[str], text: str) -> PostTemplate:
    return PostTemplate("pt", topics, text)


def _es(topics: frozenset[str], text: str) -> PostTemplate:
    return PostTemplate("es", topics, text)


# English fan forum: excited, emotional, critical and neutral posts, and unrelated chatter.
_FAN_FORUM_BASELINE = (
    _en(LL, "ok but imagining {v} singing Love Letter lives rent free in my head {e}"),
    _en(LL, "Been looping Anthony Lazaro's Love Letter all day and thinking of {v} {e}"),
    _en(LL, "Anyone have a playlist with Love Letter by Anthony Lazaro? {v} fans need this"),
    _en(
        LL, "{v}'s voice would be so warm on Love Letter, like a hug on a cold day {e} #LoveLetter"
    ),
    _en(LL, "Question for the fandom: has {v} ever talked about Love Letter in a live?"),
    _en(LL, "The way {v} picks songs like Love Letter says so much about his taste {e}"),
    _en(
        LL,
        "Why does every IU & {v} moment get cut so short? I want more than 10 seconds 😤\n"
        "Still have Love Letter on repeat though",
    ),
    _en(LL, "Learning Love Letter on guitar because of {v}. Chords are easier than I thought 🎸"),
    _en(LL, "#TaehyungLoveLetter is my whole mood today, {v} has the best taste in songs {e}"),
    _en(LL, "Not to be dramatic but Anthony Lazaro should know how much ARMY loves Love Letter 💜"),
    _en(LL, "Kinda tired of people calling Love Letter a boring song. Let {v} like what he likes."),
    _en(
        LL,
        "Reminder to stream the original Love Letter by Anthony Lazaro and support the "
        "songwriter {e}",
    ),
    _en(
        LL,
        "Missing {v} so much while he's serving. Replaying Love Letter to get through the week {e}",
    ),
    _en(LL, "Hot take: Love Letter would be the perfect song for {v}'s next playlist drop"),
    _en(
        LL,
        "Is Love Letter available on every streaming app? Asking for a {v} stan in my group chat",
    ),
    _en(LWA, "IU and {v} in the Love wins all MV still make me emotional every rewatch {e}"),
    _en(
        LWA,
        "Love wins all music video theory thread: what does the ending mean? IU fans, "
        "share your takes",
    ),
    _en(LWA, "The cinematography in IU's Love wins all is stunning, every frame is a painting"),
    _en(LWA, "#LoveWinsAll IU's vocals on the bridge are unreal {e}"),
    _en(
        LWA,
        "Not a fan of how short the Love wins all MV teasers were, I wanted more of {v} and IU 😒",
    ),
    _en(LWA, "Can someone explain the ending of the Love wins all MV? Confused but I love it"),
    _en(BOTH, "Love wins all + Love Letter = my whole playlist this week thanks to IU & {v} {e}"),
    _en(
        BOTH,
        "My two comfort songs this month: IU's Love wins all and Love Letter by Anthony Lazaro 💜",
    ),
    _en(
        BOTH,
        "Hoping the Love wins all behind the scenes shows {v} singing something... "
        "Love Letter maybe? 🤞",
    ),
    _en(
        NONE,
        "Practicing my love lettering today, brush pens are so hard to control 😅\n"
        "BTS lyric quotes next!",
    ),
    _en(
        NONE, "Wrote a love letter to my cat for her 10th birthday, she ignored it completely 🐱💌"
    ),
    _en(NONE, "Which BTS era is your favorite? Mine changes every week"),
    _en(NONE, "IU song recommendations thread, drop your favorites below 👇"),
    _en(NONE, "Happy Friday ARMY! What are you all listening to this weekend? {e}"),
    _en(NONE, "Love wins all, always. Happy wedding day to my sister 💍🌈"),
    _en(
        NONE, "Does anyone have tips for getting concert tickets? The queue system stresses me out"
    ),
    _en(
        NONE,
        "Found an old love letter from high school while cleaning my room, cringing so hard 😂",
    ),
    _en(NONE, "My BTS photobook arrived today & the packaging is gorgeous 📦💜"),
    _en(NONE, "Rewatching old Run BTS episodes tonight, who's joining? 🍿"),
)

_FAN_FORUM_BURST = (
    _en(LL, "THE BEHIND-THE-SCENES JUST DROPPED AND {v} IS SINGING LOVE LETTER {e}"),
    _en(
        BOTH,
        "{v} singing Love Letter in the Love wins all behind-the-scenes video... I'm not okay {e}",
    ),
    _en(
        LL,
        "Anthony Lazaro, if you see this: {v} just sang your Love Letter and ARMY is "
        "losing it 💜 #LoveLetter",
    ),
    _en(LL, "Who else ran here after hearing {v} sing Love Letter in IU's BTS video? {e}"),
    _en(LL, "The softest {v} moment of the year: Love Letter, no band, just his voice {e}"),
    _en(LL, "Ok but why is the Love Letter part so short?? Let {v} finish the song 😤"),
    _en(LL, "The audio on the Love Letter clip is rough but {v}'s voice still shines through {e}"),
    _en(
        BOTH,
        "Love wins all BTS video is out and {v} singing Love Letter broke the fandom {e}\n"
        "#LoveWinsAll #LoveLetter",
    ),
    _en(LL, "#VLoveLetter everywhere on my timeline. {v} did that {e}"),
    _en(
        BOTH,
        "What's the song {v} sings in the Love wins all behind the scenes? Someone "
        "said it's Love Letter by Anthony Lazaro?",
    ),
    _en(LL, "IU smiling while {v} sings Love Letter is the sweetest thing {e}"),
    _en(
        BOTH,
        "I was not prepared for {v} singing Love Letter today. IU's Love wins all era "
        "keeps giving {e}",
    ),
    _en(
        LL,
        "Honestly a bit annoyed the Love Letter moment has no proper audio, {v} deserves "
        "better mixing 😕",
    ),
    _en(
        LWA, "IU's Love wins all behind-the-scenes video is finally here and it's so wholesome {e}"
    ),
    _en(
        LWA,
        "The Love wins all BTS video shows how much work went into the MV, respect to "
        "the whole crew",
    ),
)

# News: the first line is the headline, the second a one-sentence lede; neutral wording.
_NEWS_BASELINE = (
    _en(
        LL,
        "Anthony Lazaro's 'Love Letter' finds new listeners among BTS fans\n"
        "Fan-made playlists pairing the song with V have circulated online this week.",
    ),
    _en(
        LL,
        "Why 'Love Letter' keeps coming up in BTS fan communities\n"
        "Fans of V describe the song as a comfort track during his military service.",
    ),
    _en(
        LWA,
        "IU's 'Love wins all' music video starring BTS's V continues to draw viewers\n"
        "The video pairs IU and V in a cinematic love story.",
    ),
    _en(
        LWA,
        "Fans await behind-the-scenes footage from IU's 'Love wins all' music video\n"
        "Requests for making-of clips have grown since the video's release.",
    ),
    _en(
        BOTH,
        "From 'Love wins all' to 'Love Letter': the songs BTS's V fans can't stop "
        "playing\nA look at the tracks dominating fan playlists this week.",
    ),
    _en(
        NONE,
        "Weekly K-pop roundup: comebacks and releases to watch\n"
        "Our editors pick the week's notable music news.",
    ),
    _en(
        NONE,
        "Concert season guide: tips for first-time K-pop concertgoers\n"
        "From ticketing queues to lightstick etiquette.",
    ),
    _en(
        NONE,
        "How fan translations help K-pop reach global audiences\n"
        "Volunteer translators describe their work & the communities around it.",
    ),
    _en(
        NONE,
        "Album review roundup: this month's best ballads\n"
        "Five slow songs our critics keep returning to.",
    ),
)

_NEWS_BURST = (
    _en(
        BOTH,
        "IU's 'Love wins all' behind-the-scenes video shows BTS's V singing 'Love "
        "Letter'\nThe clip shows V casually singing Anthony Lazaro's song on set.",
    ),
    _en(
        BOTH,
        "BTS's V sings Anthony Lazaro's 'Love Letter' in new 'Love wins all' "
        "behind-the-scenes clip\nFans quickly shared the moment across social platforms.",
    ),
    _en(
        LL,
        "'Love Letter' searches climb after V's behind-the-scenes moment with IU\n"
        "Listeners are seeking out the original by Anthony Lazaro.",
    ),
    _en(
        LWA,
        "Watch: IU and V's 'Love wins all' behind-the-scenes video released\n"
        "The footage covers the making of the music video.",
    ),
)

# Korean fan community.
_KR_BASELINE = (
    _ko(LL, "{ko_v} 목소리로 러브레터 듣고 싶다… 한 번만 불러줘 {ko_e}"),
    _ko(LL, "요즘 Anthony Lazaro 러브레터 계속 듣는 중. {ko_v} 생각나는 노래 {ko_e}"),
    _ko(LL, "러브레터 원곡도 좋은데 {ko_v} 버전 나오면 진짜 대박일 듯 {ko_e}"),
    _ko(LL, "#LoveLetter {ko_v} 음색이랑 너무 잘 어울리는 노래 {ko_e}"),
    _ko(LL, "{ko_v} 러브레터 부르는 영상 있으면 좋겠다 ㅠ 제대로 녹음된 걸로"),
    _ko(LL, "러브 레터 노래 제목 맞나요? {ko_v} 플레이리스트에 어울릴 것 같은 곡이요"),
    _ko(LL, "방탄 팬들 사이에서 러브레터 요즘 많이 듣던데 저도 입덕했어요 {ko_e}"),
    _ko(LWA, "아이유 러브 윈즈 올 뮤비 또 봤다 {ko_e} 볼 때마다 새로운 장면이 보여"),
    _ko(LWA, "러브윈즈올 뮤직비디오 색감 진짜 예쁘다"),
    _ko(LWA, "#러브윈즈올 아이유 음색 듣고 울었어요 {ko_e}"),
    _ko(LWA, "러브 윈즈 올 뮤비 결말 해석 좀 해주실 분… {ko_v} 표정 때문에 계속 생각나요"),
    _ko(
        BOTH,
        "아이유 러브 윈즈 올 비하인드 언제 나와요? {ko_v} 러브레터 부르는 장면 있었으면 {ko_e}",
    ),
    _ko(NONE, "옛날 영화 러브레터 다시 봤는데 여전히 좋네요 ❄️"),
    _ko(NONE, "오늘 방탄 노래 들으면서 산책했어요 날씨 좋다 ☀️"),
    _ko(NONE, "아이유 콘서트 티켓팅 또 실패 ㅠㅠ"),
    _ko(NONE, "러브레터 쓰는 법 알려주세요… 고백하려고요 😳"),
)

_KR_BURST = (
    _ko(LL, "{ko_v} 러브레터 부르는 거 미쳤다 진짜 {ko_e} 아이유 비하인드 최고"),
    _ko(BOTH, "러브 윈즈 올 비하인드 떴다!! {ko_v} 러브레터 부르는 장면 꼭 보세요 {ko_e}"),
    _ko(LL, "방금 비하인드 보고 왔는데 {ko_v} 러브레터 너무 좋아서 기절 {ko_e}"),
    _ko(LL, "{ko_v} 목소리 러브레터에 너무 잘 어울려… 음원으로 내줘요 제발 {ko_e}"),
    _ko(LL, "비하인드에서 러브레터 부분 너무 짧다 ㅠㅠ 풀버전 주세요 {ko_v} 목소리 더 듣고 싶어"),
    _ko(LWA, "#러브윈즈올 비하인드 아이유랑 {ko_v} 케미 최고 {ko_e}"),
    _ko(BOTH, "아이유 러브 윈즈 올 비하인드에서 {ko_v} 러브레터 흥얼거리는 거 들었어? {ko_e}"),
)

# Global fans: Japanese, Indonesian, Portuguese, Spanish and some English.
_GLOBAL_BASELINE = (
    _ja(LL, "{ja_v}の声でラブレター聴きたい…絶対優しい歌い方になる{e}"),
    _ja(LL, "Anthony Lazaroのラブレター、{ja_v}を思い出して毎日聴いてる💜"),
    _ja(LWA, "IUの「Love wins all」MV、何回見ても泣ける{e}"),
    _ja(LWA, "IUのラブウィンズオールのビハインドまだかな…楽しみ"),
    _ja(NONE, "岩井俊二の映画『Love Letter』をまた観た。冬になると観たくなる❄️"),
    _ja(NONE, "昔のラブレターが出てきて恥ずかしい😂"),
    _id(LL, "Ada yang tahu lagu Love Letter punya Anthony Lazaro? Gara-gara {v} aku jadi suka"),
    _id(LL, "Bayangin suara {v} nyanyi Love Letter, pasti bikin meleleh {e}"),
    _id(LWA, "MV Love wins all IU sama {v} bikin nangis terus {e}"),
    _id(NONE, "Surat cinta buat kucingku yang ulang tahun hari ini 🐱"),
    _pt(LL, "Gente, não consigo parar de ouvir Love Letter do Anthony Lazaro pensando no {v} {e}"),
    _pt(LWA, "O MV de Love wins all da IU com o {v} é uma obra de arte {e}"),
    _pt(LWA, "Cansada de esperar os bastidores de Love wins all, cadê, IU? 😩"),
    _pt(NONE, "Escrevi uma carta de amor pro meu namorado e ele chorou 🥹"),
    _es(LL, "Recomendación del día: Love Letter de Anthony Lazaro. Perfecta para fans de {v} {e}"),
    _es(LL, "¿Alguien más escucha Love Letter pensando en {v}? {e}"),
    _es(LWA, "El MV de Love wins all de IU y {v} me sigue rompiendo el corazón {e}"),
    _es(NONE, "Hoy escribí una carta de amor a mi abuela por su cumpleaños 💌"),
    _en(LL, "Greetings from Manila! Our group chat can't stop talking about {v} & Love Letter {e}"),
    _en(
        BOTH,
        "IU's Love wins all on repeat, then Love Letter, then {v}'s playlist again. Send help {e}",
    ),
    _en(NONE, "Love wins all 🌈 happy pride from São Paulo"),
)

_GLOBAL_BURST = (
    _ja(LL, "{ja_v}がラブレター歌ってる！！ビハインド最高すぎる{e}"),
    _ja(BOTH, "IUのLove wins allビハインドで{ja_v}がラブレター歌ってて無理…尊い{e}"),
    _ja(LL, "#VLoveLetter {ja_v}の声が優しすぎる{e}"),
    _ja(LWA, "IUの「Love wins all」ビハインド映像、現場の雰囲気が温かい{e}"),
    _id(
        BOTH,
        "Video behind the scenes Love wins all udah keluar! {v} nyanyi Love Letter, aku nangis {e}",
    ),
    _id(LL, "{v} nyanyi Love Letter di video IU, suaranya lembut banget {e} #LoveLetter"),
    _pt(BOTH, "O {v} cantando Love Letter nos bastidores do MV de Love wins all... não tô bem {e}"),
    _pt(
        LL,
        "Sinceramente, o áudio do clipe de Love Letter tá muito baixo, queria ouvir melhor "
        "o {v} 😕",
    ),
    _es(
        BOTH,
        "¡{v} cantando Love Letter en el detrás de cámaras del MV de Love wins all! Estoy "
        "llorando {e}",
    ),
    _es(LL, "Qué voz tan bonita tiene {v} en Love Letter, pero el audio se escucha fatal 😕"),
    _es(LWA, "El video detrás de cámaras de Love wins all de IU es precioso {e}"),
    _en(
        BOTH,
        "Watching the Love wins all behind the scenes at 3am and {v} singing Love Letter "
        "was worth it {e}",
    ),
)

BASELINE_TEMPLATES: dict[str, tuple[PostTemplate, ...]] = {
    "fan-forum": _FAN_FORUM_BASELINE,
    "news": _NEWS_BASELINE,
    "kr-community": _KR_BASELINE,
    "global-fans": _GLOBAL_BASELINE,
}

BURST_TEMPLATES: dict[str, tuple[PostTemplate, ...]] = {
    "fan-forum": _FAN_FORUM_BURST,
    "news": _NEWS_BURST,
    "kr-community": _KR_BURST,
    "global-fans": _GLOBAL_BURST,
}

# Share of each topic set among a feed's posts; a template is then picked uniformly within it.
BASELINE_MIX: dict[str, dict[frozenset[str], float]] = {
    "fan-forum": {LL: 0.55, LWA: 0.12, BOTH: 0.08, NONE: 0.25},
    "news": {LL: 0.25, LWA: 0.3, BOTH: 0.15, NONE: 0.3},
    "kr-community": {LL: 0.5, LWA: 0.2, BOTH: 0.1, NONE: 0.2},
    "global-fans": {LL: 0.5, LWA: 0.2, BOTH: 0.1, NONE: 0.2},
}

BURST_MIX: dict[str, dict[frozenset[str], float]] = {
    "fan-forum": {LL: 0.6, BOTH: 0.25, LWA: 0.15},
    "news": {BOTH: 0.6, LL: 0.2, LWA: 0.2},
    "kr-community": {LL: 0.6, BOTH: 0.25, LWA: 0.15},
    "global-fans": {LL: 0.5, BOTH: 0.35, LWA: 0.15},
}

# Invented handles: <a word of the first string>_<a word of the second>, often + _<2 digits>.
HANDLE_PARTS: dict[str, tuple[str, str]] = {
    "fan-forum": (
        "purple borahae winter soft sleepy golden midnight lavender starry moonlit",
        "ocean bear tiger hour sunflower whale cloud melody vibes diary lullaby",
    ),
    "kr-community": (
        "보라해 겨울곰 달빛 별하나 태태 윈터베어 초록잎 꿈꾸는",
        "아미 일기 정원 노래 하늘 고양이",
    ),
    "global-fans": (
        "tete sakura mango lua sol luna kopi estrella yume bintang",
        "lover world diary fan moon notes daydream corner",
    ),
}

NEWS_AUTHORS = ("Sim K-Culture Desk", "Simulated Music Wire", "Demo Newsroom Staff")

FEED_TITLES: dict[str, str] = {
    "fan-forum": "Purple Hearts Fan Forum (simulated)",
    "news": "K-Culture Daily (simulated)",
    "kr-community": "보라빛 팬 커뮤니티 (simulated)",
    "global-fans": "Global Fans Board (simulated)",
}

# The channel <language>; None for feeds that mix languages (each item says its own).
FEED_LANGUAGES: dict[str, str | None] = {
    "fan-forum": "en",
    "news": "en",
    "kr-community": "ko",
    "global-fans": None,
}
